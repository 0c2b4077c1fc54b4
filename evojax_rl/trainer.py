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

Output directory (see ``run_log``): ``config.json``, ``metrics.jsonl``, ``tb/``,
``learning_curve.png``, ``checkpoints/gen_<G>/``, and at the end ``result.json``.
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

from evojax_rl import checkpoint, distributed, obs_norm, run_log, strategies
from evojax_rl.policies import mlp_policy
from evojax_rl.problems.env import make
from evojax_rl.rollout import make_rollout
from evojax_rl.validation import check_choice, check_int

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


def validate(config: TrainConfig) -> None:
    """Raise one clear sentence for the first bad setting (before anything is traced or written)."""
    check_int("generations", config.generations)
    check_int("popsize", config.popsize, 2)
    check_int("episodes", config.episodes)
    check_int("eval_episodes", config.eval_episodes)
    check_int("chunk", config.chunk)
    check_int("checkpoint_every", config.checkpoint_every, 0)
    check_choice("strategy", config.strategy, STRATEGIES)


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

    # The state lives where a chunk leaves it: replicated over the population's devices. Started
    # there (and restored there, as checkpoint.restore follows the template), every chunk and the
    # evaluation see one placement and compile once, not again after the first chunk.
    placement = (jax.sharding.NamedSharding(distributed.population_mesh(jax.devices()[:devices]),
                                            jax.sharding.PartitionSpec())
                 if devices > 1 else None)

    def init(seed: int) -> TrainState:
        # One compiled program: dozens of eager initializer ops would each compile on their own.
        ts = _init(jnp.uint32(seed))
        return ts if placement is None else jax.device_put(ts, placement)

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

    def compile(ts: TrainState, length: int) -> None:
        # Ahead-of-time compilation fills jit's cache, so the calls that follow do not compile.
        _chunk.lower(ts, jnp.zeros((length, 0))).compile()
        _evaluate.lower(ts, _eval_key(jnp.uint32(0), ts.generation)).compile()

    return Trainer(config, init, run_chunk, evaluate, mean_params, devices, compile)


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


def _leg(start: int, end: int, t0: float) -> dict:
    """One call of ``train``: the generations it took the run from and to, and its seconds."""
    return {"start": start, "end": end, "seconds": round(time.perf_counter() - t0, 3)}


def _check_owner(info: dict, root: str, name: str, seed: int) -> None:
    """Refuse a checkpoint written by another run (another name or seed)."""
    owner = info["meta"]
    if owner.get("name") != name or owner.get("seed") != seed:
        raise checkpoint.CheckpointError(
            f"the newest checkpoint in {root!r} was written by run {owner.get('name')!r} with seed "
            f"{owner.get('seed')}, not by {name!r} with seed {seed}; resume with the run's own "
            "name and seed.")


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
    """Run (or resume) a training run; returns the ``result.json`` contents.

    ``out_dir=None`` keeps everything in memory (no logs, no checkpoints). Otherwise ``out_dir``
    may be new, empty, or hold a run that stopped before its first checkpoint (it is started
    afresh); one that holds a run (a checkpoint or ``result.json``) is refused unless ``resume``
    (restore the newest checkpoint, which must carry this ``name`` and ``seed``, and continue to
    ``config.generations``) or ``overwrite`` (delete that run and start again). All of this is
    checked before anything is compiled or written (``run_log.check_run_dir``).

    Each call is a *leg* of the run: ``legs`` lists ``{"start", "end", "seconds"}`` (generations
    and wall-clock seconds, compilation included) and ``wall_seconds`` is their sum. A killed leg
    counts up to its last checkpoint; what it ran after that is run, and counted, again by the
    leg that resumes it.
    """
    t0 = time.perf_counter()
    seed = check_int("seed", seed, 0, 2**32 - 1)
    validate(config)
    action = None
    if out_dir:
        action = run_log.check_run_dir(out_dir, resume=resume, overwrite=overwrite)
    elif resume:
        raise ValueError("resume=True needs out_dir, the directory of the run to resume.")
    ckpt_dir = os.path.join(out_dir, "checkpoints") if out_dir else None
    if resume:
        _check_owner(checkpoint.read_meta(ckpt_dir), ckpt_dir, name, seed)
    trainer = build(config)
    ts = trainer.init(seed)
    start, earlier_legs = 0, []
    if resume:
        ts, info = checkpoint.restore(ckpt_dir, ts)
        start, earlier_legs = int(ts.generation), info["meta"].get("legs", [])
    log = None
    if out_dir:
        run_log.prepare_run_dir(out_dir, action)
        run_log.write_json_atomic(os.path.join(out_dir, "config.json"),
                                  {"name": name, "seed": seed, "config": config.to_json()})
        log = run_log.RunLog(out_dir, keep_until=start)
    g, last_ckpt, eval_return, reached = start, start, None, False
    if resume and config.target_return is not None:
        # A run that stopped on its target is finished: resuming it must not run on. The eval
        # key depends only on (seed, generation), so this repeats the run's last evaluation.
        eval_return = float(trainer.evaluate(ts, seed))
        reached = eval_return >= config.target_return
    bar = None
    if progress:
        from tqdm import tqdm

        # A run that stopped on its target shows as complete, not frozen part-way like an abort.
        bar = tqdm(total=start if reached else config.generations,
                   initial=min(start, config.generations), desc=name or config.env, unit="gen",
                   dynamic_ncols=True, postfix="target reached" if reached else "compiling")
    try:
        if g < config.generations and not reached:
            trainer.compile(ts, min(config.chunk, config.generations - g))
        if bar is not None:
            bar.unpause()  # the bar's clock starts now, so its rate leaves compilation out
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
                    checkpoint.save(ckpt_dir, g, ts, {"name": name, "seed": seed,
                                                      "legs": earlier_legs + [_leg(start, g, t0)]})
                    last_ckpt = g
            if bar is not None:
                if reached:
                    bar.total = g
                bar.set_postfix_str(f"mean={records[-1]['mean_return']:.1f}, eval={eval_return:.1f}"
                                    + (", target reached" if reached else ""), refresh=False)
                bar.update(length)  # draws once per chunk (the postfix above does not draw)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if eval_return is None:  # resumed a finished run: nothing ran
        eval_return = float(trainer.evaluate(ts, seed))
    legs = earlier_legs + [_leg(start, int(ts.generation), t0)]
    result = {
        "name": name,
        "env": config.env,
        "seed": seed,
        "popsize": config.popsize,
        "generations": int(ts.generation),
        "final_mean_return": eval_return,
        "eval_episodes": config.eval_episodes,
        "target_reached": reached,
        "wall_seconds": round(sum(leg["seconds"] for leg in legs), 3),
        "legs": legs,
        "params_sha256": params_sha256(trainer.mean_params(ts)),
    }
    if out_dir:
        run_log.write_json_atomic(os.path.join(out_dir, "result.json"), result)
    return result
