"""The AlphaZero trainer: self-play with our search, learning from it, judged as it goes.

One iteration (pure, compiled): ``selfplay_batch`` games of self-play with the current network
guiding the search (``selfplay``), their positions added to the replay window of the last
``replay_window`` iterations (``replay``), then ``updates`` minibatch steps of Adam on the
policy and value losses (``learn``). ``chunk`` iterations run as one ``lax.scan``, and the run
driver (``runs.driver``: run directory, progress, metrics, TensorBoard, curve PNG, checkpoints,
resume, ``result.json``) runs the chunks. After each chunk the greedy agent is evaluated:
win/draw/loss against a uniform random player, against pure MCTS with random rollouts, and
against the parameters at the start of the chunk (the previous evaluation's); for tic-tac-toe
also every line against a perfect player that branches over all its optimal replies.

Keys: ``key(seed)`` folded with 0 (initial parameters), 1 (the training stream, split once per
iteration) and 2 (evaluation, folded again with the iteration), as in the ES trainer.

Devices (``data_devices``): with ``n`` devices (of every process) dividing both
``selfplay_batch`` and ``batch_size``, each iteration runs under ``jax.shard_map`` over
``distributed.population_mesh()``: every device plays ``selfplay_batch / n`` games (its key
folded with its index; the search never leaves the device), the new samples are gathered to every
device, and each update's gradient is computed on ``batch_size / n`` positions per device and
summed over the devices (``learn``). The state (parameters, Adam, the whole replay window) is
held whole and bit-identical by every device, so a checkpoint does not depend on ``n``. The
evaluation plays on one local device of each process.
"""

from __future__ import annotations

import functools
import threading
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

from evojax_rl import distributed, mcts
from evojax_rl.alphazero import evaluate as judge
from evojax_rl.alphazero import game as games
from evojax_rl.alphazero import learn, networks, perfect, replay, selfplay
from evojax_rl.alphazero.agent import Agent, greedy_search
from evojax_rl.alphazero.config import AlphaZeroConfig, validate
from evojax_rl.runs import driver
from evojax_rl.runs.log import Panel

Config = AlphaZeroConfig


class AZState(NamedTuple):
    """``params`` / ``opt_state``: the network and Adam; ``replay``: the replay window;
    ``previous``: the parameters at the start of the current chunk (the opponent "previous
    checkpoint" of the evaluation); ``key``: the training stream; ``iteration``: ``int32[]``."""

    params: Any
    opt_state: Any
    replay: Any
    previous: Any
    key: jax.Array
    iteration: jax.Array


def _network(config: AlphaZeroConfig, game: games.Game):
    module = networks.make_network(config.network, game.num_actions, hidden=config.hidden,
                                   channels=config.channels, blocks=config.blocks)
    return module, module.apply


def learning_rate(config: AlphaZeroConfig):
    """The learner's step size: ``config.learning_rate``, or, with ``learning_rate_end``, a cosine
    from it down to ``learning_rate_end`` over the run's ``iterations * updates`` steps (then
    flat). A schedule counts steps in the optimizer's state, so a resumed run continues it."""
    if config.learning_rate_end is None:
        return config.learning_rate
    return optax.cosine_decay_schedule(config.learning_rate, config.iterations * config.updates,
                                       alpha=config.learning_rate_end / config.learning_rate)


def local(tree: Any) -> Any:
    """``tree``'s arrays as held by this process's first device: a state held whole by every
    device (``build``) is then searched and played on one device, not on all of them."""
    return jax.tree.map(lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, tree)


def agent(config: AlphaZeroConfig, params, num_simulations: int | None = None) -> Agent:
    """The greedy agent of ``config`` with ``params`` (``num_simulations`` default: the run's
    evaluation setting), playing on this process's first device."""
    sims = num_simulations or config.eval_simulations or config.num_simulations
    game, search_fn = greedy_search(config.game, config.network, tuple(config.hidden),
                                    config.channels, config.blocks, sims, config.search,
                                    config.max_num_considered_actions)
    return Agent(game, search_fn, local(params), sims, config.search)


def data_devices(config: AlphaZeroConfig) -> int:
    """The devices an iteration is split over: all ``jax.device_count()`` when they divide both
    ``selfplay_batch`` and ``batch_size``, else 1 (with a warning)."""
    n = jax.device_count()
    if config.selfplay_batch % n == 0 and config.batch_size % n == 0:
        return n
    warnings.warn(
        f"selfplay_batch {config.selfplay_batch} and batch_size {config.batch_size} are not both "
        f"divisible by the {n} devices, so AlphaZero runs on one device; use multiples of {n} "
        "to split it.", stacklevel=4)
    return 1


class Iterations(NamedTuple):
    """The compiled training of a run (``build``): ``init(seed) -> AZState``; ``chunk(state,
    zeros [L, 0]) -> (state, metrics {name: [L]})``, jitted, ``L`` iterations (the length rides
    as a shape, so each length compiles once); ``devices``: how many the iterations are split
    over (``data_devices``)."""

    init: Any
    chunk: Any
    devices: int


def build(config: AlphaZeroConfig, game: games.Game) -> Iterations:
    """The iterations of ``config`` (validated) on ``game``."""
    module, apply_fn = _network(config, game)
    devices = data_devices(config)
    mesh = distributed.population_mesh(jax.devices()[:devices]) if devices > 1 else None
    axis = distributed.AXIS if mesh is not None else None
    play = selfplay.make_selfplay(
        game, apply_fn, batch=config.selfplay_batch // devices,
        num_simulations=config.num_simulations, search=config.search,
        opening_plies=config.opening_plies, temperature=config.temperature,
        max_num_considered_actions=config.max_num_considered_actions, axis=axis)
    per_iteration = game.max_plies * config.selfplay_batch
    window = replay.make_replay(config.replay_window, per_iteration, config.batch_size)
    optimizer = optax.adam(learning_rate(config))
    learner = learn.make_learner(apply_fn, optimizer, window, value_weight=config.value_weight,
                                 axis=axis)
    example = selfplay.Sample(jnp.zeros(game.observation_shape, jnp.float32),
                              jnp.zeros((game.num_actions,), jnp.float32), jnp.zeros(()),
                              jnp.zeros((), bool))

    # The state is held whole by every device of the mesh (of every process), made there by
    # init and restored there (checkpoint.restore follows the template): every chunk sees one
    # placement and compiles once.
    placement = distributed.replicated(mesh) if mesh is not None else None

    @functools.partial(jax.jit, out_shardings=placement)
    def _init(seed):
        root = jax.random.key(seed)
        obs = jnp.zeros((1, *game.observation_shape), jnp.float32)
        params = module.init(jax.random.fold_in(root, 0), obs)
        return AZState(params, optimizer.init(params), window.init(example), params,
                       jax.random.fold_in(root, 1), jnp.zeros((), jnp.int32))

    def init(seed: int) -> AZState:
        return _init(np.uint32(seed))

    def iteration(s: AZState, _):
        key, k_play, k_learn = jax.random.split(s.key, 3)
        samples, stats = play(s.params, k_play)
        buffer = window.add(s.replay, samples)
        params, opt_state, losses = learner.train(s.params, s.opt_state, buffer, k_learn,
                                                  config.updates)
        metrics = {"iteration": s.iteration + 1, **losses, **stats}
        return AZState(params, opt_state, buffer, s.previous, key, s.iteration + 1), metrics

    def chunk(s, length_marker):
        s = s._replace(previous=s.params)
        return jax.lax.scan(iteration, s, None, length=length_marker.shape[0])

    if mesh is not None:  # every device runs the chunk on the whole state; see the docstring
        chunk = jax.shard_map(chunk, mesh=mesh, in_specs=PartitionSpec(),
                              out_specs=PartitionSpec(), check_vma=False)
    return Iterations(init, mcts.jit(chunk), devices)  # self-play is searches: mcts.jit


def program(config: AlphaZeroConfig) -> driver.Program:
    """The AlphaZero trainer as the run driver's ``Program`` (steps are iterations)."""
    validate(config)
    game = games.make_game(config.game)
    its = build(config, game)

    def run_chunk(s, length):
        s, metrics = its.chunk(s, jnp.zeros((length, 0)))
        return s, driver.to_records(metrics, "iteration")

    evaluator = make_evaluator(config, game)

    def compile(s, length):
        # The evaluation's programs (the agent's search, the opponents, the games' steps) are
        # compiled by evaluating the initial state on a second thread while this one compiles
        # the chunk: XLA compiles each on its own core.
        warm_up = threading.Thread(target=evaluator, args=(s, 0))
        warm_up.start()
        its.chunk.lower(s, jnp.zeros((length, 0))).compile()
        warm_up.join()

    return driver.Program(
        kind="alphazero", config=config, unit="iteration", total=config.iterations,
        chunk=config.chunk, checkpoint_every=config.checkpoint_every, init=its.init,
        steps_done=lambda s: int(s.iteration), compile=compile, run_chunk=run_chunk,
        evaluate=evaluator, finished=lambda evaluation: False, postfix=_postfix,
        summary=_summary(config), params=lambda s: s.params, title=config.game,
        panels=PANELS)


def make_evaluator(config: AlphaZeroConfig, game: games.Game):
    """``evaluate(state, seed) -> dict``: the greedy agent's results per opponent, as fractions
    of ``eval_games`` (``vs_<opponent>/win``, ``/draw``, ``/loss``, ``/score`` = win + draw/2)
    against ``random``, ``mcts`` (pure MCTS with random rollouts, ``mcts_simulations``) and
    ``previous`` (the parameters at the start of the chunk), those of them in
    ``config.eval_opponents``; for tic-tac-toe, with ``"perfect"`` among them, also
    ``vs_perfect/lines`` and ``vs_perfect/lost`` (every line against the perfect player in both
    seats) and ``perfect`` (1 when none is lost)."""
    me = agent(config, None)
    chosen = config.eval_opponents
    opponents = {}
    if "random" in chosen:
        opponents["random"] = lambda s: judge.as_player(judge.random_player(game))
    if "mcts" in chosen:
        mcts_player = judge.as_player(judge.rollout_mcts_player(game, config.mcts_simulations))
        opponents["mcts"] = lambda s: mcts_player
    if "previous" in chosen:
        opponents["previous"] = lambda s: me.player(s.previous)
    match = judge.make_match(game, config.eval_games)
    # Random openings only where both sides are deterministic (the agent against itself): a
    # random player or MCTS varies the games already, and a random opening can lose a game
    # for the agent before it moves, which would hide whether it plays perfectly.
    openings = {name: config.eval_opening_plies if name == "previous" else 0 for name in opponents}

    def evaluate(s: AZState, seed: int) -> dict:
        s = local(s)
        key = driver.eval_key(seed, s.iteration)
        out = {}
        for i, (name, opponent) in enumerate(opponents.items()):
            counts = jax.device_get(match(jax.random.fold_in(key, i), me.player(s.params),
                                          opponent(s), openings[name]))
            table = dict(zip(judge.OUTCOMES, (int(c) / config.eval_games for c in counts)))
            table["score"] = table["win"] + table["draw"] / 2
            out.update({f"vs_{name}/{k}": v for k, v in table.items()})
        if "perfect" in chosen and game.id == "tic_tac_toe":
            # At the matches' batch size, so that the agent's search compiled for them is reused.
            lines = perfect.perfect_lines(game, me.player(s.params), key=jax.random.fold_in(key, 9),
                                          batch_bucket=config.eval_games)
            out.update({"vs_perfect/lines": lines["lines"], "vs_perfect/lost": lines["lost"],
                        "perfect": int(lines["lost"] == 0)})
        return out

    return evaluate


def _postfix(record: dict) -> str:
    parts = [f"loss={record['loss']:.3f}"]
    for name in ("random", "mcts", "previous"):
        if f"vs_{name}/score" in record:
            parts.append(f"{name}={record[f'vs_{name}/score']:.2f}")
    if "vs_perfect/lost" in record:
        parts.append(f"perfect lost {record['vs_perfect/lost']}/{record['vs_perfect/lines']}")
    return ", ".join(parts)


def _summary(config: AlphaZeroConfig):
    def summary(s, seed, evaluation):
        return {"game": config.game, "iterations": int(s.iteration), "evaluation": evaluation}

    return summary


def headline(result: dict) -> str:
    """One line on a finished AlphaZero run."""
    ev = result["evaluation"]
    parts = [f"{name} {ev[f'vs_{name}/win']:.0%} won, {ev[f'vs_{name}/draw']:.0%} drawn"
             for name in ("random", "mcts") if f"vs_{name}/win" in ev]
    if "vs_perfect/lost" in ev:
        parts.append(f"{ev['vs_perfect/lost']} of {ev['vs_perfect/lines']} lines lost to the "
                     "perfect player")
    return f"{result['game']} after {result['iterations']} iterations: against " + "; ".join(parts)


def eval_record(config: AlphaZeroConfig, evaluation: dict) -> dict:
    """``evojax-rl eval``'s fields: the evaluation as it is."""
    return evaluation


PANELS = (
    Panel("loss", lines=(("policy_loss", "policy (cross-entropy)"), ("value_loss", "value (L2)"))),
    Panel("score (win + draw/2)", points=(("vs_random/score", "vs random"),
                                          ("vs_mcts/score", "vs pure MCTS"),
                                          ("vs_previous/score", "vs previous"))),
)


def train(config: AlphaZeroConfig, out_dir: str | None = None, *, seed: int = 0,
          resume: bool = False, overwrite: bool = False, progress: bool = True,
          name: str = "") -> dict:
    """Run (or resume) an AlphaZero run; returns the ``result.json`` contents.

    The run directory, resume, overwrite, legs and ``result.json`` are the run driver's
    (``runs.driver.run``). ``result.json`` adds ``game``, ``iterations`` and ``evaluation`` (the
    last evaluation's metrics); ``params_sha256`` hashes the network's parameters.
    """
    return driver.run(program(config), out_dir, seed=seed, resume=resume, overwrite=overwrite,
                      progress=progress, name=name)
