"""The neuroevolution trainer: evolve an MLP policy on an environment, in compiled chunks.

One generation (pure, compiled): ``ask`` a population, roll it out (``rollout``), ``tell`` the
fitness, merge the generation's observation statistics. ``chunk`` generations run as one
``lax.scan``; once per chunk the host gets the metrics and shows progress, appends
``metrics.jsonl``, writes TensorBoard scalars, redraws ``learning_curve.png``, evaluates the mean
policy on fresh episodes, and (every ``checkpoint_every`` generations) writes an atomic
checkpoint of the whole ``TrainState``. A resumed run replays the same chunks with the same keys,
so it ends bit-for-bit where the uninterrupted run ends.

Keys: ``key(seed)`` is folded with 0 (initial params), 1 (the training stream, split once per
generation) and 2 (evaluation: folded again with the generation), so evaluating or not never
changes training.

Output directory (see ``runs.log``; the loop around the chunks is ``runs.driver``): ``config.json``, ``metrics.jsonl``, ``tb/``,
``learning_curve.png``, ``checkpoints/gen_<G>/``, and at the end ``result.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from typing import Any, Callable, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import distributed, obs_norm, strategies
from evojax_rl.runs import driver
from evojax_rl.runs.log import Panel
from evojax_rl.policies import afterstate_policy, mlp_policy
from evojax_rl.problems.env import make
from evojax_rl.rollout import make_rollout
from evojax_rl.validation import check_choice, check_int

POLICIES = ("mlp", "afterstate")
STRATEGIES = ("open_es", "simple_ga", "snes", "pgpe", "ars", "cem", "sep_cma_es", "cma_es")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that fixes a training run (JSON-serializable).

    env / env_kwargs / max_steps: ``problems.make(env, max_steps=..., **env_kwargs)``.
    policy: ``"mlp"`` (``policies.mlp_policy`` with hidden / head / activation) or
    ``"afterstate"`` (``policies.afterstate_policy``: a linear evaluation of the afterstate
    features the environment observes, as Tetris's; hidden / head / activation are unused).
    strategy / strategy_kwargs / popsize: ``strategies.<strategy>(popsize, **strategy_kwargs)``.
    generations: how many to run; episodes: per member per generation (fitness is their mean).
    eval_episodes: fresh episodes for the mean policy at each chunk end and at the end.
    chunk: generations per compiled ``lax.scan``; checkpoint_every: generations between
    checkpoints (rounded up to chunk ends; 0: only at the end).
    obs_norm: running observation normalization; common_random_numbers: same episode keys for
    every member; target_return: stop at a chunk end once the mean policy's eval return reaches
    it (None: never); compact: gather the live episodes into narrower batches as episodes end
    (``make_rollout``'s ``compact``; same results, False compiles the step once instead of up to
    three times).
    """

    env: str = "CartPole-v1"
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    max_steps: int | None = None
    policy: str = "mlp"
    hidden: tuple = (32, 32)
    head: str | None = None
    activation: str = "tanh"
    strategy: str = "open_es"
    strategy_kwargs: dict = dataclasses.field(default_factory=dict)
    popsize: int = 256
    generations: int = 100
    episodes: int = 1
    eval_episodes: int = 16
    chunk: int = 10
    checkpoint_every: int = 0
    obs_norm: bool = True
    common_random_numbers: bool = False
    target_return: float | None = None
    compact: bool = True

    kind: ClassVar[str] = "es"

    def describe(self) -> str:
        """One line: environment, strategy, population, generations."""
        return (f"env {self.env}, strategy {self.strategy}, popsize {self.popsize}, "
                f"generations {self.generations}")

    def to_json(self) -> dict:
        return driver.config_to_json(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        return driver.config_from_json(cls, d, "training config")


def validate(config: TrainConfig) -> None:
    """Raise one clear sentence for the first bad setting (before anything is traced or written)."""
    check_int("generations", config.generations)
    check_int("popsize", config.popsize, 2)
    check_int("episodes", config.episodes)
    check_int("eval_episodes", config.eval_episodes)
    check_int("chunk", config.chunk)
    check_int("checkpoint_every", config.checkpoint_every, 0)
    check_choice("strategy", config.strategy, STRATEGIES)
    check_choice("policy", config.policy, POLICIES)


class TrainState(NamedTuple):
    """``strategy_state``: the strategy's state; ``obs_stats``: ``ObsStats`` (``[*obs_shape]``);
    ``key``: the training key stream; ``generation``: ``int32[]``."""

    strategy_state: Any
    obs_stats: obs_norm.ObsStats
    key: jax.Array
    generation: jax.Array


class Trainer(NamedTuple):
    """The compiled pieces of a run (build with ``build``)."""

    config: TrainConfig
    init: Callable[[int], TrainState]
    run_chunk: Callable[[TrainState, int], tuple[TrainState, dict]]
    evaluate: Callable[[TrainState, int], jax.Array]
    mean_params: Callable[[TrainState], Any]
    devices: int  # devices the population's rollouts are sharded across
    compile: Callable[[TrainState, int], None]  # compile run_chunk(ts, length) and evaluate
    chunk_text: Callable[[TrainState, int], str]  # the compiled chunk's HLO (what crosses devices)


def build(config: TrainConfig) -> Trainer:
    """Validate ``config`` and build its environment, policy, strategy and compiled functions."""
    validate(config)
    env = make(config.env, max_steps=config.max_steps, **config.env_kwargs)
    if config.policy == "afterstate":
        policy = afterstate_policy(env)
    else:
        policy = mlp_policy(env, config.hidden, config.head, config.activation)
    strategy = getattr(strategies, config.strategy)(config.popsize, **config.strategy_kwargs)
    n_dev = jax.device_count()
    devices = n_dev if config.popsize % n_dev == 0 else 1
    if devices < n_dev:
        warnings.warn(
            f"popsize {config.popsize} is not divisible by the {n_dev} devices, so the "
            f"population runs on one device; use a multiple of {n_dev} to shard it.",
            stacklevel=2,
        )
    rollout = make_rollout(
        env,
        policy,
        episodes=config.episodes,
        obs_norm_on=config.obs_norm,
        common_random_numbers=config.common_random_numbers,
        compact=config.compact,
        devices=devices,
    )
    eval_rollout = make_rollout(env, policy, episodes=config.eval_episodes, obs_norm_on=config.obs_norm,
                                devices=1)
    obs_shape = env.observation_space.shape if config.obs_norm else ()

    # The state lives where a chunk leaves it: held whole by every device the population runs
    # on (of every process). Made there by init and restored there (checkpoint.restore follows
    # the template), every chunk and the evaluation see one placement and compile once.
    mesh = distributed.population_mesh(jax.devices()[:devices]) if devices > 1 else None
    placement = distributed.replicated(mesh) if mesh is not None else None

    @functools.partial(jax.jit, out_shardings=placement)
    def _init(seed):
        root = jax.random.key(seed)
        x0 = policy.init(jax.random.fold_in(root, 0))
        return TrainState(
            strategy.init(jax.random.fold_in(root, 3), x0),
            obs_norm.init(obs_shape),
            jax.random.fold_in(root, 1),
            jnp.zeros((), jnp.int32),
        )

    def init(seed: int) -> TrainState:
        # One compiled program: dozens of eager initializer ops would each compile on their own.
        return _init(np.uint32(seed))

    def generation(ts: TrainState, _):
        key, k_ask, k_roll = jax.random.split(ts.key, 3)
        pop, s = strategy.ask(k_ask, ts.strategy_state)
        if mesh is not None:
            # Every device draws the whole population (the perturbations never travel) and
            # rolls out its own slice; only the fitness values are gathered for tell.
            pop = jax.lax.with_sharding_constraint(pop, placement)
        res = rollout(k_roll, pop, ts.obs_stats)
        s = strategy.tell(pop, res.fitness, s)
        stats = obs_norm.merge(ts.obs_stats, res.obs_stats) if config.obs_norm else ts.obs_stats
        finite = jnp.isfinite(res.fitness)
        n_finite = jnp.maximum(jnp.sum(finite), 1)
        metrics = {
            "generation": ts.generation + 1,
            "mean_return": jnp.sum(jnp.where(finite, res.fitness, 0.0)) / n_finite,
            "max_return": jnp.max(jnp.where(finite, res.fitness, -jnp.inf)),
            "min_return": jnp.min(jnp.where(finite, res.fitness, jnp.inf)),
            "nonfinite": jnp.sum(~finite).astype(jnp.int32),
            "env_steps": jnp.sum(res.lengths).astype(jnp.int32),
        }
        return TrainState(s, stats, key, ts.generation + 1), metrics

    @jax.jit
    def _chunk(ts, length_marker):
        return jax.lax.scan(generation, ts, None, length=length_marker.shape[0])

    def run_chunk(ts: TrainState, length: int):
        # The chunk length rides as a shape, so each distinct length compiles once.
        return _chunk(ts, jnp.zeros((length, 0)))

    def mean_params(ts: TrainState):
        return strategy.mean(ts.strategy_state)

    @jax.jit
    def _evaluate(ts, key):
        params = jax.tree.map(lambda x: x[None], strategy.mean(ts.strategy_state))
        return eval_rollout(key, params, ts.obs_stats).fitness[0]

    def evaluate(ts: TrainState, seed: int) -> jax.Array:
        return _evaluate(ts, driver.eval_key(seed, ts.generation))

    def compile(ts: TrainState, length: int) -> None:
        # Ahead-of-time compilation fills jit's cache, so the calls that follow do not compile.
        _chunk.lower(ts, jnp.zeros((length, 0))).compile()
        _evaluate.lower(ts, driver.eval_key(0, ts.generation)).compile()

    def chunk_text(ts: TrainState, length: int) -> str:
        return _chunk.lower(ts, jnp.zeros((length, 0))).compile().as_text()

    return Trainer(config, init, run_chunk, evaluate, mean_params, devices, compile, chunk_text)


def program(config: TrainConfig) -> driver.Program:
    """The ES trainer as the run driver's ``Program`` (steps are generations)."""
    t = build(config)

    def run_chunk(ts, length):
        ts, metrics = t.run_chunk(ts, length)
        return ts, driver.to_records(metrics, "generation")

    def evaluate(ts, seed):
        return {"eval_return": float(t.evaluate(ts, seed))}

    def finished(evaluation):
        return config.target_return is not None and evaluation["eval_return"] >= config.target_return

    def summary(ts, seed, evaluation):
        return {"env": config.env, "popsize": config.popsize, "generations": int(ts.generation),
                "final_mean_return": evaluation["eval_return"],
                "eval_episodes": config.eval_episodes, "target_reached": finished(evaluation)}

    return driver.Program(
        kind="es", config=config, unit="generation", total=config.generations,
        chunk=config.chunk, checkpoint_every=config.checkpoint_every, init=t.init,
        steps_done=lambda ts: int(ts.generation), compile=t.compile, run_chunk=run_chunk,
        evaluate=evaluate, finished=finished,
        postfix=lambda r: f"mean={r['mean_return']:.1f}, eval={r['eval_return']:.1f}",
        summary=summary, params=t.mean_params, title=config.env, panels=PANELS,
        early_stop=config.target_return is not None, finished_text="target reached")


Config = TrainConfig


def headline(result: dict) -> str:
    """One line on a finished ES run."""
    return (f"mean policy returned {result['final_mean_return']:.1f} on {result['eval_episodes']} "
            f"fresh episodes after {result['generations']} generations")


def eval_record(config: TrainConfig, evaluation: dict) -> dict:
    """``evojax-rl eval``'s fields: the episodes and the mean policy's mean return."""
    return {"episodes": config.eval_episodes, "mean_return": evaluation["eval_return"]}


PANELS = (Panel("return", lines=(("mean_return", "population mean"), ("max_return", "population best")),
                points=(("eval_return", "mean policy (eval)"),)),)


def train(
    config: TrainConfig,
    out_dir: str | None = None,
    *,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    name: str = "",
) -> dict:
    """Run (or resume) an ES training run; returns the ``result.json`` contents.

    The run directory, resume, overwrite, legs and ``result.json`` are the run driver's
    (``runs.driver.run``, where they are documented). ``result.json`` adds ``env``, ``popsize``,
    ``generations``, ``final_mean_return`` (the mean policy's return on ``eval_episodes`` fresh
    episodes), ``eval_episodes`` and ``target_reached``; ``params_sha256`` hashes the mean
    policy's parameters.
    """
    return driver.run(program(config), out_dir, seed=seed, resume=resume, overwrite=overwrite,
                      progress=progress, name=name)
