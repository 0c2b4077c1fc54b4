"""Atomic, bit-exact checkpoints of a whole pytree (strategy state, normalizer, keys, generation).

A checkpoint is a directory ``ROOT/gen_<generation>/`` holding ``state.npz`` (every leaf, in
tree order, as raw numpy arrays; typed PRNG keys as their ``key_data``) and ``meta.json`` (format
tag, generation, leaf shapes and dtypes, which leaves are keys, and caller metadata). It is
written to a temporary directory beside it (``.tmp-*``) and renamed into place, so a reader sees
either the whole checkpoint or none of it; a save killed half-way leaves only ``.tmp-*`` or
``.old-*`` directories, which ``remove_partial`` deletes. Directories get the mode ``os.mkdir``
gives (0o777 less the umask), like the rest of a run directory. Restoring needs a template
pytree of the same structure (built from the same configuration); any mismatch is refused with
one sentence.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from typing import Any

import jax
import numpy as np

FORMAT = "evojax_rl.checkpoint/1"
_NAME = re.compile(r"^gen_(\d{8})$")


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be read or does not fit the configuration."""


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fresh_dir(root: str, prefix: str) -> str:
    """Create and return a new, uniquely named directory ``root/<prefix><random>``."""
    path = os.path.join(root, prefix + secrets.token_hex(8))
    os.mkdir(path)  # mode 0o777 less the umask (tempfile.mkdtemp would force 0o700)
    return path


def remove_partial(root: str) -> None:
    """Delete what saves killed half-way left under ``root`` (``.tmp-*`` and ``.old-*``)."""
    if os.path.isdir(root):
        for name in os.listdir(root):
            if name.startswith((".tmp-", ".old-")):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def steps(root: str) -> list[int]:
    """Generations of the complete checkpoints under ``root``, ascending."""
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        m = _NAME.match(name)
        if m and os.path.isfile(os.path.join(root, name, "meta.json")):
            found.append(int(m.group(1)))
    return sorted(found)


def latest(root: str) -> int | None:
    """The newest checkpoint's generation, or None."""
    s = steps(root)
    return s[-1] if s else None


def save(root: str, generation: int, tree: Any, meta: dict | None = None, keep: int = 2) -> str:
    """Write ``tree`` as ``root/gen_<generation>`` atomically; keep the newest ``keep``."""
    os.makedirs(root, exist_ok=True)
    leaves = jax.tree_util.tree_leaves(tree)
    arrays, keys = {}, {}
    for i, leaf in enumerate(leaves):
        if _is_key(leaf):
            keys[str(i)] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        arrays[f"leaf_{i:05d}"] = np.asarray(jax.device_get(leaf))
    info = {
        "format": FORMAT,
        "generation": int(generation),
        "leaves": [[list(a.shape), a.dtype.str] for a in arrays.values()],
        "keys": keys,
        "meta": meta or {},
    }
    final = os.path.join(root, f"gen_{int(generation):08d}")
    tmp = _fresh_dir(root, ".tmp-")
    try:
        with open(os.path.join(tmp, "state.npz"), "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(info, f)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(final):  # re-saving a generation: move the old one aside first
            old = _fresh_dir(root, ".old-")
            os.replace(final, os.path.join(old, "c"))
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for g in steps(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(os.path.join(root, f"gen_{g:08d}"), ignore_errors=True)
    return final


def read_meta(root: str, generation: int | None = None) -> dict:
    """The ``meta.json`` of a checkpoint (default: the newest); raises ``CheckpointError``."""
    g = latest(root) if generation is None else generation
    if g is None:
        raise CheckpointError(f"no checkpoint found in {root!r}.")
    path = os.path.join(root, f"gen_{g:08d}", "meta.json")
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {e}.") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not an evojax_rl checkpoint (format {FORMAT!r}).")
    return info


def restore(root: str, template: Any, generation: int | None = None) -> tuple[Any, dict]:
    """Load a checkpoint into ``template``'s structure: ``(tree, meta.json contents)``.

    Leaves come back with their saved bits, dtypes and shapes, placed like ``template``'s leaves
    (its shardings); keys as typed keys again.
    """
    info = read_meta(root, generation)
    path = os.path.join(root, f"gen_{info['generation']:08d}", "state.npz")
    leaves, treedef = jax.tree_util.tree_flatten(template)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[f"leaf_{i:05d}"] for i in range(len(data.files))]
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {e}.") from None
    if len(arrays) != len(leaves):
        raise CheckpointError(
            f"checkpoint {path!r} holds {len(arrays)} arrays but this configuration has "
            f"{len(leaves)}; it was written by a different configuration."
        )
    out = []
    for i, (arr, leaf) in enumerate(zip(arrays, leaves)):
        want = jax.random.key_data(leaf) if _is_key(leaf) else leaf
        want_shape, want_dtype = tuple(np.shape(want)), np.dtype(jax.numpy.result_type(want))
        if arr.shape != want_shape or arr.dtype != want_dtype:
            raise CheckpointError(
                f"checkpoint {path!r} does not fit this configuration: array {i} is "
                f"{arr.dtype}{list(arr.shape)}, expected {want_dtype}{list(want_shape)}."
            )
        value = jax.random.wrap_key_data(arr, impl=info["keys"].get(str(i))) if _is_key(leaf) else arr
        sharding = getattr(leaf, "sharding", None)
        out.append(jax.numpy.asarray(value) if sharding is None else jax.device_put(value, sharding))
    return jax.tree_util.tree_unflatten(treedef, out), info
