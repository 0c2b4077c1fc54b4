"""The persistent compilation cache: where ``import evojax_rl`` puts it, what it leaves alone,
and that a second process (or two at once) reads what the first one wrote."""

import json
import os
import stat
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest
from compile_count import count_compilations

from evojax_rl import compile_cache

OPTIONS = ("jax_compilation_cache_dir", "jax_enable_compilation_cache",
           "jax_persistent_cache_min_compile_time_secs",
           "jax_persistent_cache_min_entry_size_bytes")

# A fresh process: compile something before evojax_rl is imported (as a script that imported
# jax first would), then a short optimize run; report the cache events and the result.
SCRIPT = """
import json, jax, jax.numpy as jnp
events = []
jax.monitoring.register_event_listener(lambda event, **kw: events.append(event))
(jnp.arange(3.0) * 7).block_until_ready()
import evojax_rl as ejr
res = ejr.optimize(lambda x: -ejr.problems.sphere(x), ejr.strategies.cma_es(popsize=6, sigma=0.5),
                   jnp.ones(3), key=jax.random.key(0), max_generations=20)
print(json.dumps({"dir": ejr.compile_cache.directory(),
                  "hits": events.count("/jax/compilation_cache/cache_hits"),
                  "writes": events.count("/jax/compilation_cache/cache_misses"),
                  "history": res.history.tolist()}))
"""


@pytest.fixture
def jax_options():
    """Restore the cache options of JAX's config after a test changes them."""
    saved = {name: getattr(jax.config, name) for name in OPTIONS}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def start(cache_dir):
    env = dict(os.environ, EVOJAX_RL_CACHE_DIR=str(cache_dir))
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "persistent compilation cache" not in err  # JAX warns on an unreadable entry
    return json.loads(out.strip().splitlines()[-1])


def test_a_second_process_reads_what_two_concurrent_first_ones_wrote(tmp_path):
    cache = tmp_path / "cache"
    first = [finish(p) for p in [start(cache), start(cache)]]  # both cold, writing at once
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert all(r["dir"] == str(cache) for r in first)
    assert first[0]["history"] == first[1]["history"]
    assert sum(r["writes"] for r in first) > 0
    assert len(os.listdir(cache)) > 0
    warm = finish(start(cache))
    assert warm["writes"] == 0 and warm["hits"] > 0  # every program came from the cache ...
    assert warm["history"] == first[0]["history"]  # ... and computes the same


def test_the_test_session_uses_the_directory_conftest_gave_it():
    assert compile_cache.directory() == os.environ["EVOJAX_RL_CACHE_DIR"]


def test_count_compilations_still_counts_a_program_read_from_the_cache():
    f = jax.jit(lambda x: x * 3.0 + 17.0)
    x = jnp.arange(11.0)
    f(x).block_until_ready()  # compiled and written (or read, if another process wrote it)
    jax.clear_caches()
    hits = []

    def listener(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    jax.monitoring.register_event_listener(listener)
    try:
        with count_compilations() as compiled:
            f(x).block_until_ready()
    finally:
        jax.monitoring.unregister_event_listener(listener)
    assert len(hits) == 1 and compiled[0] == 1


def test_default_directory_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("EVOJAX_RL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.default_dir() == str(tmp_path / "xdg" / "evojax_rl")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache.default_dir() == str(tmp_path / "home" / ".cache" / "evojax_rl")
    monkeypatch.setenv("EVOJAX_RL_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.default_dir() == str(tmp_path / "mine")


def test_configure_sets_the_directory_and_caches_every_program(monkeypatch, tmp_path,
                                                               jax_options):
    monkeypatch.setenv("EVOJAX_RL_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", raising=False)
    jax.config.update("jax_compilation_cache_dir", None)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    assert compile_cache.configure() == str(tmp_path / "c")
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o700
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
    assert jax.config.jax_persistent_cache_min_entry_size_bytes == 0


def test_configure_keeps_the_users_choices(monkeypatch, tmp_path, jax_options):
    monkeypatch.setenv("EVOJAX_RL_CACHE_DIR", str(tmp_path / "ours"))
    # The user's own directory (JAX_COMPILATION_CACHE_DIR or jax.config): kept, thresholds too.
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "theirs"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 2.5)
    assert compile_cache.configure() == str(tmp_path / "theirs")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 2.5
    assert not (tmp_path / "ours").exists()
    # Thresholds the user set in the environment: kept.
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "2.5")
    assert compile_cache.configure() == str(tmp_path / "ours")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 2.5
    # JAX's cache switched off: left off.
    jax.config.update("jax_compilation_cache_dir", None)
    jax.config.update("jax_enable_compilation_cache", False)
    assert compile_cache.configure() is None
    assert jax.config.jax_compilation_cache_dir is None


def test_the_environment_can_disable_it(monkeypatch, tmp_path, jax_options):
    monkeypatch.setenv("EVOJAX_RL_CACHE_DIR", str(tmp_path / "c"))
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv("EVOJAX_RL_DISABLE_CACHE", "1")
    assert compile_cache.configure() is None
    assert jax.config.jax_compilation_cache_dir is None and not (tmp_path / "c").exists()
    monkeypatch.setenv("EVOJAX_RL_DISABLE_CACHE", "0")
    assert compile_cache.configure() == str(tmp_path / "c")


def test_a_bad_switch_value_is_named(monkeypatch):
    monkeypatch.setenv("EVOJAX_RL_DISABLE_CACHE", "yes")
    with pytest.raises(ValueError, match=r"^EVOJAX_RL_DISABLE_CACHE must be 0 or 1, got 'yes'\.$"):
        compile_cache.configure()
