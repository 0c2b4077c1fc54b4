"""Helpers shared by the benchmark scripts: machine description, versions and JSON output."""

import importlib.metadata
import json
import os
import platform
import sys

# The scripts run as ``python benchmarks/x.py`` from anywhere: make the checkout importable.
CHECKOUT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, CHECKOUT)

PACKAGES = ("jax", "jaxlib", "flax", "optax", "gymnax", "brax", "cma", "evosax", "mctx")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    """Total memory in GiB (from /proc/meminfo), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def versions() -> dict:
    """Installed versions of python, jax and the peers (None: not installed)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict:
    """What the figures were measured on (imports jax to name the device)."""
    import jax

    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
        "device_count": jax.device_count(),
        "versions": versions(),
    }


def checkout_path(path: str) -> str:
    """``path`` relative to the checkout when it lies inside it (as BENCHMARKS.md, at the root,
    links files), else absolute."""
    rel = os.path.relpath(path, CHECKOUT)
    return os.path.abspath(path) if rel.startswith("..") else rel


def ert(hits: list, ends: list) -> float:
    """Expected running time (COCO's ERT): each run's evaluations to its first target hit
    (``hits[i]``; None: it never hit) or else to its end (``ends[i]``), summed, over the number
    of runs that hit; ``inf`` when none did."""
    solved = sum(h is not None for h in hits)
    spent = sum(e if h is None else h for h, e in zip(hits, ends))
    return spent / solved if solved else float("inf")


def cache_env(cache_dir: str | None) -> dict:
    """This process's environment for a subprocess, with evojax_rl's persistent compilation cache
    at ``cache_dir`` (a new directory: an empty cache, as a user's first run) or, with ``None``,
    disabled; any cache setting of this process is dropped."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("EVOJAX_RL_DISABLE_CACHE", "JAX_COMPILATION_CACHE_DIR")}
    if cache_dir is None:
        env["EVOJAX_RL_DISABLE_CACHE"] = "1"
    else:
        env["EVOJAX_RL_CACHE_DIR"] = cache_dir
    return env


def emit(result: dict) -> None:
    """Print the result as the last line: one JSON object (with the machine added)."""
    result = dict(result)
    result.setdefault("machine", machine())
    print(json.dumps(result), flush=True)


def parse_only(parser, only: str, valid, what: str) -> list:
    """The names in a comma-separated ``--only`` (all of ``valid`` when empty); an unknown name
    is a usage error (``parser.error``)."""
    names = [n for n in only.split(",") if n] or list(valid)
    unknown = [n for n in names if n not in valid]
    if unknown:
        parser.error(f"unknown {what}(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return names
