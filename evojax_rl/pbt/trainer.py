"""The PBT trainer (kind ``"pbt"``): a ``population.pbt`` run driven by ``runs.driver``.

``steps`` PBT steps (one step of every member; a round every ``ready``) run in compiled chunks of
``chunk`` steps (``lax.scan``); the driver does the rest as for every trainer (run directory,
progress bar, ``metrics.jsonl``, TensorBoard, ``learning_curve.png``, atomic checkpoints of the
whole ``PBTState`` with bit-exact resume, ``result.json``). At each chunk end the member with the
best training score (``PBTState.score``, from the last round) is judged on a fresh evaluation
(the learner's ``test``: fresh episodes, held-out data) with the key ``eval_key(seed, step)``, so
judging never changes training. At the end the run directory also gets ``lineage.json``
(``lineage.to_json``) and ``lineage.png`` (``lineage.plot``).

Keys: ``key(seed)`` folded with 0 gives the PBT state (hyperparameters, members, training
stream); evaluations fold 2 as in the other trainers.

Devices: the members are split over all devices when ``members`` is a multiple of their number
(``shard=None``, a warning otherwise), always (``shard=True``, an error otherwise) or never
(``shard=False``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import warnings
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import distributed
from evojax_rl.pbt import exploit as exploit_lib
from evojax_rl.pbt import explore as explore_lib
from evojax_rl.pbt import learners, lineage, population
from evojax_rl.runs import driver
from evojax_rl.runs.log import Panel, write_json_atomic
from evojax_rl.validation import check_bool, check_choice, check_int


@dataclasses.dataclass(frozen=True)
class PBTConfig:
    """Everything that fixes a PBT run (JSON-serializable).

    learner / learner_kwargs: ``learners.LEARNERS[learner](**learner_kwargs)`` (``"es"``:
    OpenAI-ES on an environment, over ``learning_rate`` and ``sigma``; ``"regression"``: an
    optax regression, over ``learning_rate``). priors: ``{name: [kind, low, high]}``, one per
    hyperparameter of the learner. members: ``N``. steps: PBT steps (one step of every member).
    ready: steps between rounds. truncation / resample_probability / perturb_factors: exploit
    and explore (``population.pbt``). exploit: False runs the members independently (the
    fixed-hyperparameter baseline). chunk / checkpoint_every: as for the ES trainer. shard:
    split the members over the devices (None: when they divide evenly).
    """

    learner: str = "es"
    learner_kwargs: dict = dataclasses.field(default_factory=dict)
    priors: dict = dataclasses.field(default_factory=lambda: {
        "learning_rate": ["log_uniform", 1e-3, 0.3], "sigma": ["log_uniform", 0.01, 0.5]})
    members: int = 16
    steps: int = 200
    ready: int = 10
    truncation: float = 0.2
    resample_probability: float = 0.25
    perturb_factors: tuple = explore_lib.FACTORS
    exploit: bool = True
    chunk: int = 20
    checkpoint_every: int = 0
    shard: bool | None = None

    kind: ClassVar[str] = "pbt"

    def describe(self) -> str:
        """One line: learner, members, steps, ready period, priors."""
        env = self.learner_kwargs.get("env")
        what = f"{self.learner} on {env}" if env else self.learner
        priors = ", ".join(f"{n} {p[0]} [{p[1]:g}, {p[2]:g}]" for n, p in sorted(self.priors.items()))
        return (f"PBT of {what}, {self.members} members, {self.steps} steps, ready every "
                f"{self.ready}; {priors}" + ("" if self.exploit else " (exploit off)"))

    def to_json(self) -> dict:
        return driver.config_to_json(self)

    @classmethod
    def from_json(cls, d: dict) -> "PBTConfig":
        return driver.config_from_json(cls, d, "PBT config")


Config = PBTConfig


def _learner(config: PBTConfig) -> population.Learner:
    check_choice("learner", config.learner, tuple(learners.LEARNERS))
    factory = learners.LEARNERS[config.learner]
    if not isinstance(config.learner_kwargs, dict):
        raise ValueError(f"learner_kwargs must be a dict, got {config.learner_kwargs!r}.")
    allowed = [p for p in inspect.signature(factory).parameters]
    unknown = sorted(set(config.learner_kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"unknown learner_kwargs {unknown} for learner {config.learner!r}; "
                         f"allowed: {allowed}.")
    return factory(**config.learner_kwargs)


def _devices(config: PBTConfig) -> int:
    if config.shard is not None:
        check_bool("shard", config.shard)
    n_dev = jax.device_count()
    if config.shard is False or n_dev == 1:
        return 1
    if config.members % n_dev == 0:
        return n_dev
    if config.shard:
        raise ValueError(f"shard=True needs members to be a multiple of the {n_dev} devices, "
                         f"got members={config.members}.")
    warnings.warn(f"members={config.members} is not divisible by the {n_dev} devices, so the "
                  f"members run on one device; use a multiple of {n_dev} to split them.",
                  stacklevel=3)
    return 1


def validate(config: PBTConfig) -> None:
    """Raise one clear sentence for the first bad setting (before anything is traced or
    written); the learner's and the priors' checks follow in ``build``."""
    check_int("steps", config.steps)
    check_int("ready", config.ready)
    check_int("chunk", config.chunk)
    check_int("checkpoint_every", config.checkpoint_every, 0)
    exploit_lib.check(config.members, config.truncation, "pbt")
    explore_lib.check(config.resample_probability, config.perturb_factors, "pbt")
    check_bool("exploit", config.exploit)


def build(config: PBTConfig) -> population.PBT:
    """Validate ``config`` and build its learner and PBT functions (nothing compiled)."""
    validate(config)
    learner = _learner(config)
    rounds = config.steps // config.ready
    return population.pbt(
        learner, config.priors, members=config.members, ready=config.ready, rounds=rounds,
        truncation=config.truncation, resample_probability=config.resample_probability,
        perturb_factors=config.perturb_factors, exploit=config.exploit,
        devices=_devices(config))


def program(config: PBTConfig) -> driver.Program:
    """The PBT trainer as the run driver's ``Program`` (steps are PBT steps)."""
    p = build(config)
    learner = p.learner
    test = learner.test or learner.evaluate
    member_params = learner.params or (lambda m: m)
    whole = None if p.mesh is None else distributed.replicated(p.mesh)

    def _init(seed):
        return p.init(jax.random.fold_in(jax.random.key(seed), 0))

    # The state lives where p.shardings says (members split, the rest whole on each device):
    # made there by init, returned there by every chunk, restored there (checkpoint.restore
    # follows init's template), so every chunk and the evaluation compile once.
    where = p.shardings(jax.eval_shape(_init, np.uint32(0)))
    init_jit = jax.jit(_init, out_shardings=where)

    def init(seed: int):
        return init_jit(np.uint32(seed))

    @functools.partial(jax.jit, out_shardings=(where, whole))
    def _chunk(state, length_marker):
        return jax.lax.scan(lambda s, _: p.step(s), state, None, length=length_marker.shape[0])

    def run_chunk(state, length):
        state, metrics = _chunk(state, jnp.zeros((length, 0)))
        return state, driver.to_records(metrics, "step")

    def _best_member(state):
        b = p.best(state)
        return b, jax.tree.map(lambda x: x[b], state.learner)

    @functools.partial(jax.jit, out_shardings=whole)
    def _evaluate(state, key):
        b, member = _best_member(state)
        return b, test(member, key), {n: v[b] for n, v in state.hyperparams.items()}

    def evaluate(state, seed: int) -> dict:
        b, score, hyper = jax.device_get(_evaluate(state, driver.eval_key(seed, state.step)))
        return {"eval_score": float(score), "best_member": int(b),
                **{f"{n}/eval_member": float(v) for n, v in hyper.items()}}

    @functools.partial(jax.jit, out_shardings=whole)
    def _params(state):
        return member_params(_best_member(state)[1])

    def compile(state, length: int) -> None:
        _chunk.lower(state, jnp.zeros((length, 0))).compile()
        _evaluate.lower(state, driver.eval_key(0, state.step)).compile()

    def summary(state, seed, evaluation) -> dict:
        record = lineage.to_json(state.lineage)
        return {
            "learner": config.learner, "members": config.members, "steps": int(state.step),
            "rounds": record["rounds"], "copies": len(record["copies"]),
            "exploit": config.exploit, "best_member": evaluation["best_member"],
            "best_training_score": float(np.asarray(state.score)[evaluation["best_member"]]),
            "best_hyperparams": {n: evaluation[f"{n}/eval_member"] for n in sorted(p.priors)},
            "final_score": evaluation["eval_score"],
        }

    def artifacts(state, out_dir: str) -> None:
        record = lineage.to_json(state.lineage)
        write_json_atomic(os.path.join(out_dir, "lineage.json"), record)
        lineage.plot(record, os.path.join(out_dir, "lineage.png"),
                     title=f"PBT of {config.learner}")

    names = sorted(p.priors)
    panels = (Panel("score", lines=(("best_score", "best member (training)"),
                                    ("median_score", "median member (training)")),
                    points=(("eval_score", "best member (fresh evaluation)"),)),
              *(Panel(n, lines=((f"{n}/best", "best member"),)) for n in names))
    return driver.Program(
        kind="pbt", config=config, unit="step", total=config.steps, chunk=config.chunk,
        checkpoint_every=config.checkpoint_every, init=init,
        steps_done=lambda s: int(s.step), compile=compile, run_chunk=run_chunk,
        evaluate=evaluate, finished=lambda evaluation: False,
        postfix=lambda r: f"best={r['best_score']:.3g}, eval={r['eval_score']:.3g}",
        summary=summary, params=_params, title=f"PBT {config.learner}", panels=panels,
        artifacts=artifacts)


def headline(result: dict) -> str:
    """One line on a finished PBT run."""
    hp = ", ".join(f"{n}={v:.3g}" for n, v in result["best_hyperparams"].items())
    return (f"best member {result['best_member']} ({hp}) scored {result['final_score']:.4g} on a "
            f"fresh evaluation after {result['steps']} steps of {result['members']} members "
            f"({result['copies']} copies)")


def eval_record(config: PBTConfig, evaluation: dict) -> dict:
    """``evojax-rl eval``'s fields: the member with the best training score and its fresh
    evaluation."""
    return {"member": evaluation["best_member"], "score": evaluation["eval_score"]}


def train(config: PBTConfig, out_dir: str | None = None, *, seed: int = 0, resume: bool = False,
          overwrite: bool = False, progress: bool = True, name: str = "") -> dict:
    """Run (or resume) a PBT run; returns the ``result.json`` contents (the driver's fields and
    ``summary``'s: ``best_member``, ``best_hyperparams``, ``final_score`` (its fresh evaluation),
    ``copies``, ...); the run directory also gets ``lineage.json`` and ``lineage.png``."""
    return driver.run(program(config), out_dir, seed=seed, resume=resume, overwrite=overwrite,
                      progress=progress, name=name)
