"""One process of a multi-process checkpoint test (run by tests/test_checkpoint.py).

    python checkpoint_worker.py PORT PROCESS_ID save|restore ROOT OUT

Joins a 2-process JAX run (2 CPU devices each) on 127.0.0.1:PORT, then either saves the tree of
``values()`` as global arrays (replicated, and one leaf sharded along axis 0) to ``ROOT`` as
generation 3, or restores the newest checkpoint of ``ROOT`` into a template of global arrays
(and one process-local array).
It writes to ``OUT`` an ``.npz`` of the whole values this process sees (gathered from all
processes) and prints ``ok``.
"""

import sys

import jax
import numpy as np

STEP = 3


def values() -> dict:
    """The checkpointed tree as numpy (keys as their key_data), the same in every process."""
    return {
        "w": (np.arange(24, dtype=np.float32).reshape(4, 6) * np.float32(0.37)) ** 2,
        "pop": np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3),
        "step": np.int32(7),
        "key": np.asarray(jax.random.key_data(jax.random.key(42))),
        "host": np.array([1.5, -2.25], np.float32),  # on this process's first device only
    }


def as_numpy(tree: dict) -> dict:
    """Every leaf's whole value as numpy (typed keys as key_data), gathered from all processes."""
    from jax.experimental import multihost_utils

    out = {}
    for name, leaf in tree.items():
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if jax.process_count() > 1 and not leaf.is_fully_addressable:
            leaf = multihost_utils.process_allgather(leaf, tiled=True)
        out[name] = np.asarray(leaf)
    return out


def main(port: str, pid: str, mode: str, root: str, out: str) -> None:
    jax.config.update("jax_num_cpu_devices", 2)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", 2, int(pid))
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from evojax_rl.runs import checkpoint

    mesh = Mesh(jax.devices(), ("pop",))
    replicated = NamedSharding(mesh, PartitionSpec())
    by_row = NamedSharding(mesh, PartitionSpec("pop"))
    v = values()
    scale = 1 if mode == "save" else 0  # a restore template holds other values
    build = jax.jit(lambda: {"w": jnp.asarray(v["w"]) * scale, "pop": jnp.asarray(v["pop"]) * scale,
                             "step": jnp.int32(v["step"]) * scale,
                             "key": jax.random.wrap_key_data(jnp.asarray(v["key"]) * scale)},
                    out_shardings={"w": replicated, "pop": by_row, "step": replicated,
                                   "key": replicated})
    tree = {**build(), "host": jnp.asarray(v["host"]) * scale}
    if mode == "save":
        checkpoint.save(root, STEP, tree, {"processes": jax.process_count()})
        # No process returns before the checkpoint is complete.
        assert checkpoint.latest(root) == STEP, "save returned before gen_* was complete"
    else:
        back, info = checkpoint.restore(root, tree)
        assert info["generation"] == STEP
        for name in tree:
            assert back[name].sharding == tree[name].sharding, f"{name}: {back[name].sharding}"
        tree = back
    np.savez(out, **as_numpy(tree))
    print("ok", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
