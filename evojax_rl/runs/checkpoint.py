"""Atomic, bit-exact checkpoints of a whole pytree (strategy state, normalizer, keys, generation).

Layout: a checkpoint is the directory ``ROOT/gen_<8-digit generation>/`` holding ``state/`` (every
leaf, in tree order, saved by orbax-checkpoint as ``leaf_<i>``; typed PRNG keys as their
``key_data``) and ``meta.json`` (format tag, generation, leaf shapes and dtypes, which leaves are
keys and their impl, and caller metadata). It is complete iff it holds ``meta.json``.

Atomicity: a save writes ``ROOT/.tmp-gen_<generation>/`` (``state/`` first, ``meta.json`` last,
fsynced) and renames it to ``gen_<generation>`` (an existing one is first moved aside into
``.old-*``), so a reader sees either the whole checkpoint or none of it; a save killed half-way
leaves only ``.tmp-*`` or ``.old-*`` directories, which ``remove_partial`` (and the next save of
that generation) deletes. Directories we create get the mode ``os.mkdir`` gives (0o777 less the
umask), like the rest of a run directory.

Multi-process (``jax.process_count() > 1``): every process calls ``save`` and ``restore`` with the
same arguments. Leaves may be global ``jax.Array``s spanning the devices of all processes; orbax
writes each shard once. A leaf that lives on one process only (a numpy value, or an array on this
process's devices) is saved from process 0's copy. Process 0 alone does the directory bookkeeping
(stale ``.tmp-gen_*`` removal, ``meta.json``, rename, pruning, ``remove_partial``), with barriers
between the steps, so no process writes before the stale directory is gone and none returns from
``save`` before the checkpoint is complete. A process that fails mid-save leaves the others waiting
at the next barrier.

Restoring needs a template pytree of the same structure (built from the same configuration); each
leaf comes back placed like the template's leaf (its sharding), whatever the number of processes
or devices that wrote it. Any mismatch or unreadable checkpoint is refused with one sentence.
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
import orbax.checkpoint as ocp

FORMAT = "evojax_rl.checkpoint/2"
_OLDER_FORMATS = ("evojax_rl.checkpoint/1",)
_NAME = re.compile(r"^gen_(\d{8})$")


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be read or does not fit the configuration."""


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _lead() -> bool:
    """Whether this process does the directory bookkeeping (process 0)."""
    return jax.process_index() == 0


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _name(generation: int) -> str:
    return f"gen_{int(generation):08d}"


def remove_partial(root: str) -> None:
    """Delete what saves killed half-way left under ``root`` (``.tmp-*`` and ``.old-*``)."""
    if _lead() and os.path.isdir(root):
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


def _stored(leaf: Any) -> Any:
    """What orbax saves for ``leaf``: a jax.Array if global (multi-process), else numpy."""
    if _is_key(leaf):
        leaf = jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array) and (jax.process_count() == 1 or not leaf.is_fully_addressable):
        return leaf
    return np.asarray(jax.device_get(leaf), dtype=jax.numpy.result_type(leaf))  # as restored


def save(root: str, generation: int, tree: Any, meta: dict | None = None, keep: int = 2) -> str:
    """Write ``tree`` as ``root/gen_<generation>`` atomically; keep the newest ``keep``."""
    root = os.path.abspath(root)  # orbax takes absolute paths only
    leaves = jax.tree_util.tree_leaves(tree)
    arrays = {f"leaf_{i:05d}": _stored(leaf) for i, leaf in enumerate(leaves)}
    info = {
        "format": FORMAT,
        "generation": int(generation),
        "leaves": [[list(a.shape), np.dtype(a.dtype).name] for a in arrays.values()],
        "keys": {str(i): str(jax.random.key_impl(leaf)) for i, leaf in enumerate(leaves)
                 if _is_key(leaf)},
        "meta": meta or {},
    }
    final = os.path.join(root, _name(generation))
    tmp = os.path.join(root, ".tmp-" + _name(generation))  # a name every process agrees on
    tag = f"evojax_rl.checkpoint.save.{int(generation)}"
    if _lead():
        os.makedirs(root, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)  # a stale one, left by a killed save
        os.mkdir(tmp)  # mode 0o777 less the umask
    _barrier(tag + ".start")
    try:
        if arrays:
            with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as c:
                c.save(os.path.join(tmp, "state"), args=ocp.args.StandardSave(arrays))
        _barrier(tag + ".state")
        if _lead():
            with open(os.path.join(tmp, "meta.json"), "w") as f:
                json.dump(info, f)
                f.flush()
                os.fsync(f.fileno())
            if os.path.exists(final):  # re-saving a generation: move the old one aside first
                old = os.path.join(root, ".old-" + secrets.token_hex(8))
                os.mkdir(old)
                os.replace(final, os.path.join(old, "c"))
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
            _fsync_dir(root)
    except BaseException:
        if _lead():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if _lead():
        for g in steps(root)[:-keep] if keep > 0 else []:
            shutil.rmtree(os.path.join(root, _name(g)), ignore_errors=True)
    _barrier(tag + ".done")
    return final


def read_meta(root: str, generation: int | None = None) -> dict:
    """The ``meta.json`` of a checkpoint (default: the newest); raises ``CheckpointError``."""
    g = latest(root) if generation is None else generation
    if g is None:
        raise CheckpointError(f"no checkpoint found in {root!r}.")
    path = os.path.join(root, _name(g), "meta.json")
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {e}.") from None
    fmt = info.get("format") if isinstance(info, dict) else None
    if fmt in _OLDER_FORMATS:
        raise CheckpointError(
            f"{path!r} was written by an older evojax_rl (format {fmt!r}) and cannot be restored "
            f"by this one (format {FORMAT!r}).")
    if fmt != FORMAT:
        raise CheckpointError(f"{path!r} is not an evojax_rl checkpoint (format {FORMAT!r}).")
    return info


def _one_line(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [""])[0].rstrip(".")
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def restore(root: str, template: Any, generation: int | None = None) -> tuple[Any, dict]:
    """Load a checkpoint into ``template``'s structure: ``(tree, meta.json contents)``.

    Leaves come back with their saved bits, dtypes and shapes, placed like ``template``'s leaves
    (their shardings; a leaf that is not a jax.Array goes to this process's first device); keys as
    typed keys again.
    """
    root = os.path.abspath(root)  # orbax takes absolute paths only
    info = read_meta(root, generation)
    path = os.path.join(root, _name(info["generation"]))
    leaves, treedef = jax.tree_util.tree_flatten(template)
    saved, saved_keys = info.get("leaves"), info.get("keys")
    if not isinstance(saved, list) or not isinstance(saved_keys, dict):
        raise CheckpointError(f"{path!r} is not an evojax_rl checkpoint (no list of its arrays).")
    if len(saved) != len(leaves):
        raise CheckpointError(
            f"checkpoint {path!r} holds {len(saved)} arrays but this configuration has "
            f"{len(leaves)}; it was written by a different configuration.")
    targets = {}
    for i, ((shape, dtype), leaf) in enumerate(zip(saved, leaves)):
        want = jax.random.key_data(leaf) if _is_key(leaf) else leaf
        want_shape, want_dtype = tuple(np.shape(want)), np.dtype(jax.numpy.result_type(want))
        if (str(i) in saved_keys) != _is_key(leaf):
            kinds = ("a PRNG key", "a plain array")
            raise CheckpointError(
                f"checkpoint {path!r} does not fit this configuration: array {i} is "
                f"{kinds[_is_key(leaf)]}, expected {kinds[not _is_key(leaf)]}.")
        if tuple(shape) != want_shape or dtype != want_dtype.name:
            raise CheckpointError(
                f"checkpoint {path!r} does not fit this configuration: array {i} is "
                f"{dtype}{list(shape)}, expected {want_dtype.name}{list(want_shape)}.")
        sharding = (want.sharding if isinstance(want, jax.Array)
                    else jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))
        targets[f"leaf_{i:05d}"] = jax.ShapeDtypeStruct(want_shape, want_dtype, sharding=sharding)
    got = {}
    if targets:
        try:
            with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as c:
                got = c.restore(os.path.join(path, "state"), args=ocp.args.StandardRestore(targets))
        except Exception as e:  # orbax / tensorstore: missing, truncated or corrupt files
            raise CheckpointError(f"cannot read checkpoint {path!r} ({_one_line(e)}).") from None
    out = []
    for i, name in enumerate(targets):
        impl = saved_keys.get(str(i))
        out.append(got[name] if impl is None else jax.random.wrap_key_data(got[name], impl=impl))
    return jax.tree_util.tree_unflatten(treedef, out), info
