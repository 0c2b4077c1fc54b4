"""What the trainer writes on the host once per chunk: ``metrics.jsonl``, TensorBoard scalars,
and a learning-curve PNG. One JSON object per generation; chunk-end records also carry
``eval_return`` (the mean policy on fresh episodes).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Iterable


def write_json_atomic(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file and ``os.replace``."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
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


class RunLog:
    """Appends metrics, mirrors them to TensorBoard and redraws ``learning_curve.png``."""

    def __init__(self, out_dir: str, resume_generation: int | None = None, tensorboard: bool = True):
        self.out_dir = out_dir
        self.path = os.path.join(out_dir, "metrics.jsonl")
        self.records = read_metrics(self.path)
        if resume_generation is not None or self.records:
            # Drop what a killed run logged after its last checkpoint, so a resumed run's log
            # reads like the uninterrupted run's.
            keep = resume_generation or 0
            self.records = [r for r in self.records if r.get("generation", 0) <= keep]
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                for r in self.records:
                    f.write(json.dumps(r) + "\n")
            os.replace(tmp, self.path)
        self.writer = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(os.path.join(out_dir, "tb"))

    def append(self, records: Iterable[dict]) -> None:
        records = [{k: _clean(v) for k, v in r.items()} for r in records]
        with open(self.path, "a") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        self.records.extend(records)
        if self.writer is not None:
            for r in records:
                for k, v in r.items():
                    if k != "generation" and isinstance(v, (int, float)):
                        self.writer.add_scalar(k, v, r["generation"])
            self.writer.flush()

    def plot(self, title: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        gens = [r["generation"] for r in self.records]
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, label in (("mean_return", "population mean"), ("max_return", "population best")):
            ys = [r.get(key) for r in self.records]
            ax.plot(gens, [float("nan") if y is None else y for y in ys], label=label, lw=1)
        ev = [(r["generation"], r["eval_return"]) for r in self.records if r.get("eval_return") is not None]
        if ev:
            ax.plot(*zip(*ev), "o-", label="mean policy (eval)", ms=3)
        ax.set_xlabel("generation")
        ax.set_ylabel("return")
        ax.set_title(title)
        ax.legend(loc="lower right")
        fig.tight_layout()
        tmp = os.path.join(self.out_dir, ".tmp-learning_curve.png")
        fig.savefig(tmp, dpi=80)
        plt.close(fig)
        os.replace(tmp, os.path.join(self.out_dir, "learning_curve.png"))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
