"""JAX's persistent compilation cache, turned on by default in a per-user directory.

Importing ``evojax_rl`` calls ``configure()``, which points JAX's persistent compilation cache
(``jax_compilation_cache_dir``) at ``$EVOJAX_RL_CACHE_DIR``, else ``$XDG_CACHE_HOME/evojax_rl``,
else ``~/.cache/evojax_rl``, so that a second process running the same program loads XLA's
output from disk instead of compiling it again. Set ``EVOJAX_RL_DISABLE_CACHE=1`` to leave JAX
as it is (no cache unless you configure one).

A choice the user already made is kept: if ``jax_compilation_cache_dir`` is set (by
``JAX_COMPILATION_CACHE_DIR`` or ``jax.config.update`` before importing ``evojax_rl``) or JAX's
cache is switched off (``jax_enable_compilation_cache=False``), nothing is changed. A user who
sets the directory after importing ``evojax_rl`` but before the first compilation also wins:
JAX opens its cache at the first compilation.

With our directory, every program is cached, however small or quick to compile (JAX's default
keeps only programs that took a second or more): the small programs of a short run (the key
split, ``init``'s array constructors, the CLI's helpers) take 0.3-0.8 s together to compile on 2
CPU cores, and reading one back about 10 ms (``benchmarks/first_result.py``).
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` and ``JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES``,
when set, are kept.

The directory is created readable and writable by its owner only: JAX runs what it finds in its
cache, so a cache others can write to lets them run code as you. Entries are never evicted
(JAX's default); delete the directory to reclaim the space.
"""

from __future__ import annotations

import os

import jax

DIR_ENV = "EVOJAX_RL_CACHE_DIR"
DISABLE_ENV = "EVOJAX_RL_DISABLE_CACHE"

# Cache every program: see the module docstring (measured in benchmarks/first_result.py).
MIN_COMPILE_TIME_SECS = 0.0
MIN_ENTRY_SIZE_BYTES = 0

_THRESHOLDS = (
    ("jax_persistent_cache_min_compile_time_secs", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
     MIN_COMPILE_TIME_SECS),
    ("jax_persistent_cache_min_entry_size_bytes", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
     MIN_ENTRY_SIZE_BYTES),
)


def default_dir() -> str:
    """``$EVOJAX_RL_CACHE_DIR``, else ``$XDG_CACHE_HOME/evojax_rl``, else
    ``~/.cache/evojax_rl`` (the directory ``configure`` uses; it may not exist yet)."""
    path = os.environ.get(DIR_ENV)
    if path:
        return os.path.abspath(os.path.expanduser(path))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "evojax_rl")


def disabled_by_env() -> bool:
    """Whether ``EVOJAX_RL_DISABLE_CACHE`` asks for no cache ("1"); unset, "" and "0" do not."""
    value = os.environ.get(DISABLE_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{DISABLE_ENV} must be 0 or 1, got {value!r}.")
    return value == "1"


def configure() -> str | None:
    """Turn the persistent cache on in ``default_dir()`` unless the environment says not to or
    the user configured JAX's cache already; returns the directory JAX will use (None: none).

    Safe to call more than once; called by ``import evojax_rl``.
    """
    if disabled_by_env():
        return directory()
    if jax.config.jax_compilation_cache_dir is not None:
        return directory()  # the user's own choice
    if not jax.config.jax_enable_compilation_cache:
        return None  # the user switched JAX's cache off
    path = default_dir()
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None  # e.g. a read-only home: run uncached rather than fail the import
    if not os.access(path, os.W_OK | os.X_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    for option, env, value in _THRESHOLDS:
        if env not in os.environ:
            jax.config.update(option, value)
    return path


def directory() -> str | None:
    """The persistent cache directory JAX uses now (None: no persistent cache)."""
    if not jax.config.jax_enable_compilation_cache:
        return None
    return jax.config.jax_compilation_cache_dir
