"""The lineage record: who copied whom, at which step, with which hyperparameters after explore.

Kept in fixed-size device arrays inside the PBT state (so a checkpoint holds it and a resumed run
continues it exactly), one row per ready step ("round"), ``R`` rows allocated up front:

- ``step: int32[R]``: the step of each round (-1 for rows not reached yet).
- ``parent: int32[R, N]``: whom each member is a copy of after the round (itself if it kept its
  own state).
- ``score: f32[R, N]``: each member's score at the round, before exploit.
- ``hyperparams: {name: f32[R, N]}``: each member's hyperparameters after the round (after
  explore for those that copied).
- ``initial: {name: f32[N]}``: the hyperparameters drawn at step 0.
- ``rounds: int32[]``: rounds so far; rounds beyond ``R`` are counted but not kept.

``to_json`` turns it into host lists (``lineage.json``) and ``plot`` draws ``lineage.png``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Lineage(NamedTuple):
    """See the module docstring for the fields and their shapes."""

    step: jax.Array
    parent: jax.Array
    score: jax.Array
    hyperparams: dict
    initial: dict
    rounds: jax.Array


def empty(capacity: int, initial: Mapping[str, jax.Array]) -> Lineage:
    """A record with room for ``capacity`` rounds of the ``N`` members in ``initial``
    (``{name: f32[N]}``)."""
    members = next(iter(initial.values())).shape[0]
    return Lineage(
        step=jnp.full((capacity,), -1, jnp.int32),
        parent=jnp.zeros((capacity, members), jnp.int32),
        score=jnp.zeros((capacity, members), jnp.float32),
        hyperparams={k: jnp.zeros((capacity, members), jnp.float32) for k in initial},
        initial=dict(initial),
        rounds=jnp.zeros((), jnp.int32),
    )


def record(lineage: Lineage, step: jax.Array, parents: jax.Array, scores: jax.Array,
           hyperparams: Mapping[str, jax.Array]) -> Lineage:
    """``lineage`` with the next round written (dropped if there is no room left)."""
    r = lineage.rounds
    return lineage._replace(
        step=lineage.step.at[r].set(step, mode="drop"),
        parent=lineage.parent.at[r].set(parents, mode="drop"),
        score=lineage.score.at[r].set(scores, mode="drop"),
        hyperparams={k: v.at[r].set(hyperparams[k], mode="drop")
                     for k, v in lineage.hyperparams.items()},
        rounds=r + 1,
    )


def _floats(a: np.ndarray) -> list:
    return [[None if not np.isfinite(x) else float(x) for x in row] for row in a]


def to_json(lineage: Lineage) -> dict:
    """The record as plain JSON: ``{"members", "rounds", "rounds_kept", "initial": {name: [N]},
    "events": [{"step", "parent": [N], "score": [N], "hyperparams": {name: [N]}}, ...],
    "copies": [{"step", "member", "parent", "hyperparams": {name: value}}, ...]}`` (non-finite
    scores as null)."""
    lin = jax.device_get(lineage)
    rounds = int(lin.rounds)
    kept = min(rounds, lin.step.shape[0])
    names = sorted(lin.initial)
    events, copies = [], []
    for r in range(kept):
        parent = [int(p) for p in lin.parent[r]]
        hp = {k: [float(v) for v in lin.hyperparams[k][r]] for k in names}
        events.append({"step": int(lin.step[r]), "parent": parent,
                       "score": _floats(lin.score[r][None])[0], "hyperparams": hp})
        for m, p in enumerate(parent):
            if p != m:
                copies.append({"step": int(lin.step[r]), "member": m, "parent": p,
                               "hyperparams": {k: hp[k][m] for k in names}})
    return {"members": int(lin.parent.shape[1]), "rounds": rounds, "rounds_kept": kept,
            "initial": {k: [float(v) for v in lin.initial[k]] for k in names},
            "events": events, "copies": copies}


def plot(record: dict, path: str, title: str = "PBT lineage", colour: str | None = None) -> None:
    """Draw ``lineage.png`` from ``to_json``'s record: one row per member over the steps (its
    line coloured by the log of hyperparameter ``colour``, default the first by name), a
    vertical line from parent to member at each copy, a dot at the member; a second panel shows each hyperparameter's values over
    the steps. Written atomically (temporary file, then ``os.replace``)."""
    import matplotlib
    from matplotlib import cm, colors
    from matplotlib.collections import LineCollection
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = sorted(record["initial"])
    colour = colour or names[0]
    n = record["members"]
    steps = [0] + [e["step"] for e in record["events"]]
    values = [record["initial"]] + [e["hyperparams"] for e in record["events"]]
    fig = Figure(figsize=(8, 3 + 2.5 * len(names)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1 + len(names), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [2] + [1] * len(names)})[:, 0]
    ax = axes[0]
    all_values = np.array([v[colour] for v in values], dtype=float)
    positive = all_values[all_values > 0]
    log = positive.size == all_values.size and positive.size > 0
    shown = np.log10(all_values) if log else all_values
    norm = colors.Normalize(float(np.min(shown)), float(np.max(shown)) + 1e-12)
    cmap = matplotlib.colormaps["viridis"]
    # One collection for the members' segments and one for the copies: thousands of separate
    # artists would make the drawing slow.
    segments, seg_values = [], []
    for r in range(len(steps) - 1):
        for m in range(n):
            segments.append([(steps[r], m), (steps[r + 1], m)])
            seg_values.append(shown[r][m])
    ax.add_collection(LineCollection(segments, array=np.asarray(seg_values), cmap=cmap,
                                     norm=norm, linewidths=3, capstyle="butt"))
    ax.scatter([steps[-1]] * n, range(n), c=shown[-1], cmap=cmap, norm=norm, marker="|", s=60)
    if record["copies"]:
        xs = np.array([c["step"] for c in record["copies"]], float)
        src = np.array([c["parent"] for c in record["copies"]], float)
        dst = np.array([c["member"] for c in record["copies"]], float)
        ax.add_collection(LineCollection(np.stack([np.stack([xs, src], 1), np.stack([xs, dst], 1)], 1),
                                         colors="0.3", linewidths=0.6))
        ax.scatter(xs, dst, marker="o", s=8, color="0.3", zorder=3)
    ax.set_xlim(steps[0] - 0.5, steps[-1] + 0.5 if len(steps) > 1 else 1)
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    # Beside every panel, so that all of them keep the same width and their steps line up.
    fig.colorbar(sm, ax=list(axes), label=("log10 " if log else "") + colour)
    ax.set_ylabel("member")
    ax.set_yticks(range(n))
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_title(f"{title}: {len(record['copies'])} copies (line from the parent to the dot)")
    for ax, name in zip(axes[1:], names):
        vals = np.array([v[name] for v in values], dtype=float)  # [rounds + 1, N]
        for m in range(n):
            ax.step(steps, vals[:, m], where="post", lw=0.8)
        if np.all(vals > 0):
            ax.set_yscale("log")
        ax.set_ylabel(name)
    axes[-1].set_xlabel("step")
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".tmp-" + os.path.basename(path))
    fig.savefig(tmp, dpi=80)
    os.replace(tmp, path)
