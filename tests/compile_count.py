"""Count XLA compilations through JAX's public monitoring hooks (``jax.monitoring``).

JAX records one duration event per backend compilation; a cache hit in ``jit`` records none.
"""

import contextlib

import jax

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compilations():
    """``with count_compilations() as counted: ...``; then ``counted[0]`` is the number of XLA
    compilations made inside the block."""
    counted = [0]

    def listener(event, duration_secs, **kwargs):
        del duration_secs, kwargs
        if event == BACKEND_COMPILE_EVENT:
            counted[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield counted
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
