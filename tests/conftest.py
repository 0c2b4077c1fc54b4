import atexit
import os
import shutil
import tempfile

from xla_flags import flags

# Four host devices, so sharding tests run on a CPU-only machine, and the tests' compile flags
# (xla_flags.py); must precede importing jax.
os.environ.setdefault("XLA_FLAGS", flags(devices=4))

# The session's own persistent compilation cache (evojax_rl.compile_cache): the tests neither
# read nor fill the user's cache, and start cold. Set before pytest-xdist starts its workers and
# before any subprocess test, so all of them share it through the environment. A cache directory
# given by the caller (EVOJAX_RL_CACHE_DIR) is used as it is and kept.
if "EVOJAX_RL_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="evojax_rl_test_cache_")
    os.environ["EVOJAX_RL_CACHE_DIR"] = _cache
    _owner = os.getpid()
    atexit.register(lambda: os.getpid() == _owner and shutil.rmtree(_cache, ignore_errors=True))
