"""The run directory, and what a run writes to it on the host once per chunk.

A run directory holds ``config.json``, ``metrics.jsonl`` (one JSON object per step, a
generation or an iteration; chunk-end records also carry the trainer's evaluation), ``tb/``
(TensorBoard scalars of the same records), ``learning_curve.png``, ``checkpoints/`` and, once the
run ends, ``result.json``. ``metrics.jsonl`` is the record: when a run starts or resumes, the
records after the checkpoint it resumes from are dropped and ``tb/`` is rebuilt from what is
kept, so TensorBoard always shows exactly the records of ``metrics.jsonl``.

Files get the mode ``open`` gives (0o666 less the umask). Temporary files and directories are
named ``.tmp-*`` (and ``.old-*`` for what is being replaced); a killed run can leave them behind,
and the next run in the directory deletes them.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from typing import Iterable, NamedTuple, Sequence

from evojax_rl.runs import checkpoint

# What a run writes, in the order ``clear_run`` deletes it: first what marks a run as finished or
# resumable, so that a half-cleared directory never looks like either. The last ones are what
# trainers add at the end (``driver.Program.artifacts``: PBT's lineage).
RUN_FILES = ("result.json", "checkpoints", "config.json", "metrics.jsonl", "tb", "learning_curve.png",
             "lineage.json", "lineage.png")


def write_json_atomic(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file and ``os.replace``."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".tmp-{secrets.token_hex(8)}.json")
    # os.open with 0o666 applies the umask, as open() does (tempfile.mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def check_run_dir(path: str, *, resume: bool = False, overwrite: bool = False,
                  flag: str = "{}=True") -> str:
    """Decide what a run may do with the directory ``path``, before anything is compiled or written.

    Returns ``"new"`` (no run there), ``"restart"`` (a run that stopped before its first
    checkpoint: no checkpoint and no ``result.json``; it is started afresh), ``"replace"``
    (``overwrite``: any run there is deleted first) or ``"resume"``. Raises ``ValueError`` in one
    sentence when ``path`` is not a directory, when it holds a run (a checkpoint or a
    ``result.json``) and neither ``resume`` nor ``overwrite`` is given, and (``CheckpointError``)
    when ``resume`` finds no checkpoint. ``flag`` spells the options in messages: ``"{}=True"``
    for Python, ``"--{}"`` for the command line.
    """
    resume_flag, overwrite_flag = flag.format("resume"), flag.format("overwrite")
    if resume and overwrite:
        raise ValueError(f"{resume_flag} and {overwrite_flag} exclude each other; pass one of them.")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"run directory {path!r} exists and is not a directory.")
    has_checkpoint = checkpoint.latest(os.path.join(path, "checkpoints")) is not None
    if resume:
        if not os.path.isdir(path):
            raise checkpoint.CheckpointError(f"{resume_flag}: run directory {path!r} does not exist.")
        if not has_checkpoint:
            raise checkpoint.CheckpointError(
                f"{resume_flag}: no checkpoint found in {path!r}; run without {resume_flag} to "
                "start it afresh.")
        return "resume"
    if has_checkpoint or os.path.exists(os.path.join(path, "result.json")):
        if overwrite:
            return "replace"
        raise ValueError(f"{path!r} already holds a run; pass {resume_flag} to continue it, "
                         f"{overwrite_flag} to start again, or choose another directory.")
    if any(os.path.exists(os.path.join(path, name)) for name in RUN_FILES):
        return "restart"
    return "new"


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def prepare_run_dir(path: str, action: str) -> None:
    """Make ``path`` ready for a run that ``check_run_dir`` answered with ``action``.

    Creates it; for ``"restart"`` and ``"replace"`` deletes the old run's files (``RUN_FILES``,
    nothing else); always deletes the ``.tmp-*``/``.old-*`` leftovers of a killed run, here and
    in ``checkpoints/``.
    """
    os.makedirs(path, exist_ok=True)
    if action in ("restart", "replace"):
        for name in RUN_FILES:
            _remove(os.path.join(path, name))
    for name in os.listdir(path):
        if name.startswith((".tmp-", ".old-")):
            _remove(os.path.join(path, name))
    checkpoint.remove_partial(os.path.join(path, "checkpoints"))


def read_metrics(path: str) -> list[dict]:
    """The records of a ``metrics.jsonl`` (a torn last line, from a killed run, is dropped)."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:
                break
    return records


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _write_records(f, records: list[dict]) -> None:
    """Write ``records`` to the open ``metrics.jsonl`` file ``f``, one JSON line each, and flush
    them to disk."""
    for r in records:
        f.write(json.dumps(r) + "\n")
    f.flush()
    os.fsync(f.fileno())


class Panel(NamedTuple):
    """One panel of ``learning_curve.png``: ``lines`` are ``(metric, label)`` drawn for every
    record that has the metric, ``points`` the same drawn as markers (metrics logged only at
    evaluations)."""

    ylabel: str
    lines: tuple = ()
    points: tuple = ()


class RunLog:
    """Appends metrics, mirrors them to TensorBoard and redraws ``learning_curve.png``.

    ``step_key``: the record field that counts steps (``"generation"``, ``"iteration"``): the
    TensorBoard step and the PNG's x axis. ``keep_until``: the step the run starts from (the
    resumed checkpoint's; 0 for a fresh run). Records after it, which a killed run logged past
    its last checkpoint, are dropped from ``metrics.jsonl``, and ``tb/`` is rebuilt from the
    records kept.
    """

    def __init__(self, out_dir: str, keep_until: int = 0, step_key: str = "generation"):
        from tensorboardX.event_file_writer import EventsWriter

        self.out_dir = out_dir
        self.step_key = step_key
        self.path = os.path.join(out_dir, "metrics.jsonl")
        self.records = [r for r in read_metrics(self.path) if r.get(step_key, 0) <= keep_until]
        tmp = os.path.join(out_dir, ".tmp-metrics.jsonl")
        with open(tmp, "w") as f:
            _write_records(f, self.records)
        os.replace(tmp, self.path)
        tb = os.path.join(out_dir, "tb")
        if os.path.exists(tb):  # renamed first, so a half-deleted tb/ is never mistaken for one
            old = os.path.join(out_dir, f".old-tb-{secrets.token_hex(8)}")
            os.replace(tb, old)
            shutil.rmtree(old)
        os.mkdir(tb)
        # Written synchronously (tensorboardX's SummaryWriter queues events for a thread, so a
        # flush there does not mean the events are on disk).
        self.writer = EventsWriter(os.path.join(tb, "events"))
        self._write_tb(self.records)

    def _write_tb(self, records: list[dict]) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        for r in records:
            for k, v in r.items():
                if k != self.step_key and isinstance(v, (int, float)):
                    self.writer.write_event(
                        Event(wall_time=time.time(), step=r[self.step_key], summary=scalar(k, v)))
        self.writer.flush()

    def append(self, records: Iterable[dict]) -> None:
        """Append ``records`` to ``metrics.jsonl`` and TensorBoard; both are flushed to disk."""
        records = [{k: _clean(v) for k, v in r.items()} for r in records]
        with open(self.path, "a") as f:
            _write_records(f, records)
        self.records.extend(records)
        self._write_tb(records)

    def plot(self, title: str, panels: Sequence[Panel]) -> None:
        """Redraw ``learning_curve.png``, one row per panel (with matplotlib's object API: pyplot
        and its global backend, which a notebook's inline plots depend on, are left alone)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 1 + 3 * len(panels)))
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        for ax, panel in zip(axes, panels):
            for key, label in panel.lines:
                xy = self._series(key)
                if xy:
                    ax.plot(*zip(*xy), label=label, lw=1)
            for key, label in panel.points:
                xy = self._series(key)
                if xy:
                    ax.plot(*zip(*xy), "o-", label=label, ms=3)
            ax.set_ylabel(panel.ylabel)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize="small")
        axes[0].set_title(title)
        axes[-1].set_xlabel(self.step_key)
        fig.tight_layout()
        tmp = os.path.join(self.out_dir, ".tmp-learning_curve.png")
        fig.savefig(tmp, dpi=80)
        os.replace(tmp, os.path.join(self.out_dir, "learning_curve.png"))

    def _series(self, key: str) -> list[tuple]:
        """``(step, value)`` of every record holding a finite ``key``."""
        return [(r[self.step_key], r[key]) for r in self.records if r.get(key) is not None]

    def close(self) -> None:
        self.writer.close()
