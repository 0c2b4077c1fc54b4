"""The chunk driver: the one loop every trainer runs, with everything around it.

A trainer describes itself as a ``Program`` (its state, its compiled chunk of steps, its
evaluation, its result fields) and ``run`` does the rest, the same for every trainer: checks the
run directory before anything is compiled or written, restores the newest checkpoint when
resuming (refusing one written by another run), compiles ahead of time, runs chunks with a
progress bar, appends each chunk's records to ``metrics.jsonl`` and TensorBoard, redraws
``learning_curve.png`` (at most every ``PLOT_SECONDS``, and at the end), writes atomic checkpoints of the whole state, and writes
``result.json``. Because a resumed run replays the same chunks with the same keys, it ends
bit-for-bit where the uninterrupted run ends.

Steps are the trainer's unit (generations for ES, iterations for AlphaZero); ``Program.unit``
names them and is the key that numbers the records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np

from evojax_rl import distributed
from evojax_rl.runs import checkpoint
from evojax_rl.runs.log import Panel, RunLog, check_run_dir, prepare_run_dir, write_json_atomic
from evojax_rl.validation import check_int


PLOT_SECONDS = 10.0
# The progress bar's short unit names (tqdm's own is "it"); others are shown whole.
BAR_UNITS = {"generation": "gen", "iteration": "it"}


class Program(NamedTuple):
    """What a trainer hands the driver.

    kind: the trainer's name, written to ``config.json`` (``"es"``, ``"alphazero"``).
    config: the run's configuration; ``config.to_json()`` is stored in ``config.json``.
    unit: the step's name (``"generation"``, ``"iteration"``); each record carries it.
    total / chunk / checkpoint_every: steps to run, steps per compiled chunk, steps between
      checkpoints (rounded up to chunk ends; 0: only at the end).
    init(seed) -> state: the state at step 0 (a pytree, checkpointed whole).
    steps_done(state) -> int: the step the state is at.
    compile(state, length): compile ``run_chunk`` for that length (and the evaluation) ahead.
    run_chunk(state, length) -> (state, records): ``length`` steps; one dict per step, holding
      ``unit``, with Python numbers.
    evaluate(state, seed) -> dict: metrics added to the chunk's last record (host numbers).
    finished(evaluation) -> bool: stop early after this evaluation (a target reached).
    postfix(record) -> str: the progress bar's text after a chunk.
    summary(state, seed, evaluation) -> dict: the trainer's fields of ``result.json``.
    params(state): what ``params_sha256`` in ``result.json`` hashes.
    title: the progress bar's and the curve's title when the run has no name.
    panels: the rows of ``learning_curve.png``.
    early_stop: whether ``finished`` can ever be true (a resumed run then re-evaluates first).
    finished_text: the progress bar's word for an early stop.
    artifacts(state, out_dir): the trainer's extra end-of-run files (PBT's lineage.json and
      lineage.png), written by process 0 after the last checkpoint and before ``result.json``;
      each file atomically (``runs.log.write_json_atomic``, or a temporary file and
      ``os.replace``). None: nothing.
    """

    kind: str
    config: Any
    unit: str
    total: int
    chunk: int
    checkpoint_every: int
    init: Callable[[int], Any]
    steps_done: Callable[[Any], int]
    compile: Callable[[Any, int], None]
    run_chunk: Callable[[Any, int], tuple[Any, list[dict]]]
    evaluate: Callable[[Any, int], dict]
    finished: Callable[[dict], bool]
    postfix: Callable[[dict], str]
    summary: Callable[[Any, int, dict], dict]
    params: Callable[[Any], Any]
    title: str
    panels: Sequence[Panel]
    early_stop: bool = False
    finished_text: str = "finished early"
    artifacts: Callable[[Any, str], None] | None = None


def config_to_json(config: Any) -> dict:
    """A frozen dataclass configuration as ``config.json`` stores it (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def config_from_json(cls: type, d: dict, what: str) -> Any:
    """``cls(**d)`` from ``config.json``'s form (lists back to tuples); an unknown field raises
    ``ValueError`` naming it and the allowed ones (``what`` names the configuration)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown {what} field(s) {unknown}; allowed: {sorted(names)}.")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def params_sha256(params: Any) -> str:
    """SHA-256 of the bytes of every leaf of ``params``, in tree order."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(params):
        h.update(np.ascontiguousarray(np.asarray(jax.device_get(leaf))).tobytes())
    return h.hexdigest()


@jax.jit
def _eval_key(seed, step):
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 2), step)


def eval_key(seed: int, step) -> jax.Array:
    """The key of a run's evaluation at ``step``: ``key(seed)`` folded with 2, then with the
    step (trainers fold 0 and 1 for initialization and training), so evaluating or not never
    changes training, and a resumed run repeats the same evaluations."""
    return _eval_key(jax.numpy.uint32(seed), step)


def to_records(metrics: dict, unit: str) -> list[dict]:
    """Stacked per-step device metrics (``{name: [L]}``, from a ``lax.scan``) as ``L`` host
    records of Python ints and floats."""
    m = {k: np.asarray(v) for k, v in jax.device_get(metrics).items()}
    n = len(m[unit])
    return [{k: (int(v[i]) if v.dtype.kind in "iub" else float(v[i])) for k, v in m.items()}
            for i in range(n)]


def _leg(start: int, end: int, t0: float) -> dict:
    """One call of ``run``: the steps it took the run from and to, and its seconds."""
    return {"start": start, "end": end, "seconds": round(time.perf_counter() - t0, 3)}


def _check_kind(owner: dict, root: str, kind: str) -> None:
    """Refuse a checkpoint written by another trainer (checkpoints from before ``kind`` are ES's)."""
    if owner.get("kind", "es") != kind:
        raise checkpoint.CheckpointError(
            f"the newest checkpoint in {root!r} was written by a run of kind "
            f"{owner.get('kind', 'es')!r}, not {kind!r}.")


def _check_owner(info: dict, root: str, name: str, seed: int, kind: str) -> None:
    """Refuse a checkpoint written by another run (another trainer, name or seed)."""
    owner = info["meta"]
    _check_kind(owner, root, kind)
    if owner.get("name") != name or owner.get("seed") != seed:
        raise checkpoint.CheckpointError(
            f"the newest checkpoint in {root!r} was written by run {owner.get('name')!r} with seed "
            f"{owner.get('seed')}, not by {name!r} with seed {seed}; resume with the run's own "
            "name and seed.")


def read_run(run_dir: str) -> dict:
    """``config.json`` of a run directory: ``{"kind", "name", "seed", "config"}`` (runs written
    before ``kind`` existed are ES runs). Raises ``ValueError`` in one sentence."""
    if not os.path.isdir(run_dir):
        what = "does not exist" if not os.path.exists(run_dir) else "is not a directory"
        raise ValueError(f"run directory {run_dir!r} {what}.")
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            run = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{run_dir!r} is not an evojax-rl run directory (no config.json).") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path!r}: {e}.") from None
    if not isinstance(run, dict) or not isinstance(run.get("config"), dict) or "seed" not in run:
        raise ValueError(f"{path!r} is not an evojax-rl run configuration.")
    return {"kind": "es", **run}


def restore_latest(program: Program, run_dir: str, seed: int) -> tuple[Any, dict]:
    """The newest checkpoint of ``run_dir`` restored into ``program``'s state: ``(state, meta)``;
    one written by another kind of trainer is refused."""
    root = os.path.join(run_dir, "checkpoints")
    _check_kind(checkpoint.read_meta(root)["meta"], root, program.kind)
    return checkpoint.restore(root, program.init(seed))


def run(
    program: Program,
    out_dir: str | None = None,
    *,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    name: str = "",
) -> dict:
    """Run (or resume) ``program``; returns the ``result.json`` contents.

    ``out_dir=None`` keeps everything in memory (no logs, no checkpoints). Otherwise ``out_dir``
    may be new, empty, or hold a run that stopped before its first checkpoint (it is started
    afresh); one that holds a run (a checkpoint or ``result.json``) is refused unless ``resume``
    (restore the newest checkpoint, which must carry this trainer's kind, this ``name`` and
    ``seed``, and continue to ``program.total``) or ``overwrite`` (delete that run and start
    again). All of this is checked before anything is compiled or written.

    Many processes (``distributed.initialize``): every process calls ``run`` with the same
    arguments and runs every chunk (the state is replicated, the population split); only process
    0 writes ``config.json``, metrics, TensorBoard, the curve and ``result.json`` and shows
    progress, while checkpoints are written by all together. After every chunk the parameters'
    replicas on every device of every process are compared (``distributed.check_replicas``), so
    a run whose processes drifted apart stops with one sentence instead of going on.

    Each call is a *leg* of the run: ``legs`` lists ``{"start", "end", "seconds"}`` (steps and
    wall-clock seconds, compilation included) and ``wall_seconds`` is their sum. A killed leg
    counts up to its last checkpoint; what it ran after that is run, and counted, again by the
    leg that resumes it.
    """
    t0 = time.perf_counter()
    seed = check_int("seed", seed, 0, 2**32 - 1)
    action = None
    if out_dir:
        action = check_run_dir(out_dir, resume=resume, overwrite=overwrite)
    elif resume:
        raise ValueError("resume=True needs out_dir, the directory of the run to resume.")
    ckpt_dir = os.path.join(out_dir, "checkpoints") if out_dir else None
    if resume:
        _check_owner(checkpoint.read_meta(ckpt_dir), ckpt_dir, name, seed, program.kind)
    main = distributed.is_main()
    state = program.init(seed)
    start, earlier_legs = 0, []
    if resume:
        state, info = checkpoint.restore(ckpt_dir, state)
        start, earlier_legs = program.steps_done(state), info["meta"].get("legs", [])
    log = None
    if out_dir:
        distributed.barrier("evojax_rl.run.checked")  # every process has read the directory
        if main:
            prepare_run_dir(out_dir, action)
            write_json_atomic(os.path.join(out_dir, "config.json"),
                              {"kind": program.kind, "name": name, "seed": seed,
                               "config": program.config.to_json()})
            log = RunLog(out_dir, keep_until=start, step_key=program.unit)
        distributed.barrier("evojax_rl.run.prepared")
    replicas = jax.device_count() > 1
    total, unit = program.total, program.unit
    step, last_ckpt, evaluation, finished = start, start, {}, False
    plotted = -math.inf
    if resume and program.early_stop:
        # A run that stopped early is finished: resuming it must not run on. Evaluations depend
        # only on (seed, step), so this repeats the run's last one.
        evaluation = program.evaluate(state, seed)
        finished = program.finished(evaluation)
    bar = None
    if progress and main:
        from tqdm import tqdm

        # A run that stopped early shows as complete, not frozen part-way like an abort.
        bar = tqdm(total=start if finished else total, initial=min(start, total),
                   desc=name or program.title, unit=BAR_UNITS.get(unit, unit), dynamic_ncols=True,
                   postfix=program.finished_text if finished else "compiling")
    try:
        if step < total and not finished:
            program.compile(state, min(program.chunk, total - step))
        if bar is not None:
            bar.unpause()  # the bar's clock starts now, so its rate leaves compilation out
        while step < total and not finished:
            length = min(program.chunk, total - step)
            state, records = program.run_chunk(state, length)
            step = records[-1][unit]
            evaluation = program.evaluate(state, seed)
            records[-1].update(evaluation)
            finished = program.finished(evaluation)
            if replicas:
                distributed.check_replicas(program.params(state), step=step)
            if log is not None:
                log.append(records)
                # Redrawn at most every PLOT_SECONDS (a draw costs ~0.3 s) and at the end.
                if step >= total or finished or time.perf_counter() - plotted >= PLOT_SECONDS:
                    log.plot(name or program.title, program.panels)
                    plotted = time.perf_counter()
            if out_dir:
                due = program.checkpoint_every and step - last_ckpt >= program.checkpoint_every
                if due or step >= total or finished:
                    checkpoint.save(ckpt_dir, step, state,
                                    {"kind": program.kind, "name": name, "seed": seed,
                                     "legs": earlier_legs + [_leg(start, step, t0)]})
                    last_ckpt = step
            if bar is not None:
                if finished:
                    bar.total = step
                bar.set_postfix_str(program.postfix(records[-1])
                                    + (f", {program.finished_text}" if finished else ""),
                                    refresh=False)
                if step >= total or finished:
                    bar.n += length  # close() draws the final state; update() would draw it twice
                else:
                    bar.update(length)  # draws once per chunk (the postfix above does not draw)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if not evaluation:  # resumed a finished run: nothing ran
        evaluation = program.evaluate(state, seed)
    legs = earlier_legs + [_leg(start, program.steps_done(state), t0)]
    result = {
        "kind": program.kind,
        "name": name,
        "seed": seed,
        **program.summary(state, seed, evaluation),
        "wall_seconds": round(sum(leg["seconds"] for leg in legs), 3),
        "legs": legs,
        "params_sha256": params_sha256(program.params(state)),
    }
    if out_dir and main:
        if program.artifacts is not None:
            program.artifacts(state, out_dir)
        write_json_atomic(os.path.join(out_dir, "result.json"), result)
    return result
