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

Output directory: ``config.json``, ``metrics.jsonl``, ``tb/``, ``learning_curve.png``,
``checkpoints/gen_<G>/``, and at the end ``result.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import checkpoint, obs_norm, strategies
from evojax_rl.policies import mlp_policy
from evojax_rl.problems.env import make
from evojax_rl.rollout import make_rollout
from evojax_rl.run_log import RunLog, write_json_atomic

STRATEGIES = ("open_es", "simple_ga", "snes", "pgpe", "ars", "cem", "sep_cma_es", "cma_es")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that fixes a training run (JSON-serializable).

    env / env_kwargs / max_steps: ``problems.make(env, max_steps=..., **env_kwargs)``.
    hidden / head / activation: the MLP policy (``policies.mlp_policy``).
    strategy / strategy_kwargs / popsize: ``strategies.<strategy>(popsize, **strategy_kwargs)``.
    generations: how many to run; episodes: per member per generation (fitness is their mean).
    eval_episodes: fresh episodes for the mean policy at each chunk end and at the end.
    chunk: generations per compiled ``lax.scan``; checkpoint_every: generations between
    checkpoints (rounded up to chunk ends; 0: only at the end).
    obs_norm: running observation normalization; common_random_numbers: same episode keys for
    every member; target_return: stop at a chunk end once the mean policy's eval return reaches
    it (None: never).
    """

    env: str = "CartPole-v1"
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    max_steps: int | None = None
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

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training config field(s) {unknown}; allowed: {sorted(names)}.")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def _positive_int(name: str, v: Any, minimum: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {v!r}.")


def validate(config: TrainConfig) -> None:
    """Raise one clear sentence for the first bad setting (before anything is traced or written)."""
    _positive_int("generations", config.generations)
    _positive_int("popsize", config.popsize, 2)
    _positive_int("episodes", config.episodes)
    _positive_int("eval_episodes", config.eval_episodes)
    _positive_int("chunk", config.chunk)
    _positive_int("checkpoint_every", config.checkpoint_every, 0)
    if config.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {config.strategy!r}; allowed: {', '.join(STRATEGIES)}.")


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


def build(config: TrainConfig) -> Trainer:
    """Validate ``config`` and build its environment, policy, strategy and compiled functions."""
    validate(config)
    env = make(config.env, max_steps=config.max_steps, **config.env_kwargs)
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
        devices=devices,
    )
    eval_rollout = make_rollout(env, policy, episodes=config.eval_episodes, obs_norm_on=config.obs_norm,
                                devices=1)
    obs_shape = env.observation_space.shape if config.obs_norm else ()

    @jax.jit
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
        return _init(jnp.uint32(seed))

    def generation(ts: TrainState, _):
        key, k_ask, k_roll = jax.random.split(ts.key, 3)
        pop, s = strategy.ask(k_ask, ts.strategy_state)
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

    @jax.jit
    def _eval_key(seed, generation):
        return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 2), generation)

    def evaluate(ts: TrainState, seed: int) -> jax.Array:
        return _evaluate(ts, _eval_key(jnp.uint32(seed), ts.generation))

    return Trainer(config, init, run_chunk, evaluate, mean_params, devices)


def params_sha256(params: Any) -> str:
    """SHA-256 of the bytes of every leaf of ``params``, in tree order."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(params):
        h.update(np.ascontiguousarray(np.asarray(jax.device_get(leaf))).tobytes())
    return h.hexdigest()


def _to_host(metrics: dict) -> list[dict]:
    m = {k: np.asarray(v) for k, v in jax.device_get(metrics).items()}
    n = len(m["generation"])
    return [{k: (int(v[i]) if v.dtype.kind in "iu" else float(v[i])) for k, v in m.items()} for i in range(n)]


def train(
    config: TrainConfig,
    out_dir: str | None = None,
    *,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    name: str = "",
) -> dict:
    """Run (or resume) a training run; returns the ``result.json`` contents.

    ``out_dir=None`` keeps everything in memory (no logs, no checkpoints). With ``resume`` the
    newest checkpoint in ``out_dir/checkpoints`` is restored and the run continues to
    ``config.generations``.
    """
    t0 = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}.")
    trainer = build(config)
    ts = trainer.init(seed)
    ckpt_dir = os.path.join(out_dir, "checkpoints") if out_dir else None
    start = 0
    if resume:
        if not out_dir or checkpoint.latest(ckpt_dir) is None:
            raise checkpoint.CheckpointError(f"--resume: no checkpoint found in {out_dir!r}.")
        ts, _ = checkpoint.restore(ckpt_dir, ts)
        start = int(ts.generation)
    log = None
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        write_json_atomic(os.path.join(out_dir, "config.json"),
                          {"name": name, "seed": seed, "config": config.to_json()})
        log = RunLog(out_dir, resume_generation=start)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.generations, initial=min(start, config.generations),
                   desc=name or config.env, unit="gen", dynamic_ncols=True)
    last_ckpt, eval_return, g = start, None, start
    reached = False
    if resume and config.target_return is not None:
        # A run that stopped on its target is finished: resuming it must not run on. The eval
        # key depends only on (seed, generation), so this repeats the run's last evaluation.
        eval_return = float(trainer.evaluate(ts, seed))
        reached = eval_return >= config.target_return
    try:
        while g < config.generations and not reached:
            length = min(config.chunk, config.generations - g)
            ts, metrics = trainer.run_chunk(ts, length)
            records = _to_host(metrics)
            g = records[-1]["generation"]
            eval_return = float(trainer.evaluate(ts, seed))
            records[-1]["eval_return"] = eval_return
            reached = config.target_return is not None and eval_return >= config.target_return
            if log is not None:
                log.append(records)
                log.plot(name or config.env)
                due = config.checkpoint_every and g - last_ckpt >= config.checkpoint_every
                if due or g >= config.generations or reached:
                    checkpoint.save(ckpt_dir, g, ts, {"name": name, "seed": seed})
                    last_ckpt = g
            if bar is not None:
                bar.update(length)
                bar.set_postfix(mean=f"{records[-1]['mean_return']:.1f}", eval=f"{eval_return:.1f}")
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if eval_return is None:  # resumed a finished run: nothing ran
        eval_return = float(trainer.evaluate(ts, seed))
    result = {
        "name": name,
        "env": config.env,
        "seed": seed,
        "popsize": config.popsize,
        "generations": int(ts.generation),
        "final_mean_return": eval_return,
        "eval_episodes": config.eval_episodes,
        "target_reached": reached,
        "wall_seconds": round(time.perf_counter() - t0, 3),
        "params_sha256": params_sha256(trainer.mean_params(ts)),
    }
    if out_dir:
        write_json_atomic(os.path.join(out_dir, "result.json"), result)
    return result
