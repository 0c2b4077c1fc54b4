"""The rollout engine: a population of policies x episodes on a jit-compiled environment.

Written for one episode, then ``vmap``ped over episodes and over the population:

- An episode is a ``lax.while_loop`` that runs while it is not ``done`` and below ``max_steps``.
  Under ``vmap`` the loop goes on while *any* episode of the batch is live and freezes the finished
  ones, so the whole batch stops when every episode is done: a generation of short episodes costs
  short time.
- Compaction (the default): one long episode would keep all ``P * E`` lanes stepping, so once
  three quarters of the episodes have ended the live ones are gathered into a batch a quarter as
  wide (and once more, to a sixteenth). The batch then costs about its live episodes' steps.
- Nothing per step is stored: the loop carries the environment state, the observation, the
  return, the step count, ``done`` and the episode's observation statistics. Memory does not grow
  with ``max_steps``.
- Observations are normalized with running statistics (``obs_norm``) that are frozen within the
  call; the call returns the statistics of the live observations it saw, for the caller to merge
  (``obs_norm.merge``) after the generation.
- ``common_random_numbers``: every member gets the same episode keys (same initial states and
  environment noise), so fitness differences come from the parameters alone.
- With several devices (of one process or many) the population is split over them
  (``distributed``); returns and lengths equal the single-device result, and the observation
  statistics equal it up to float32 rounding (XLA compiles the per-step update differently in
  the split program: a difference of one unit in the last place was measured).

Keys: per step, the environment and the policy get ``fold_in(episode_key, t)`` split in two, so an
environment or head that ignores its key costs nothing.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import distributed, obs_norm, validation
from evojax_rl.policies import Policy
from evojax_rl.problems.env import Env, check_env


# Compaction's widths (``compaction_widths``): each a quarter of the one before, at most three
# (the step is compiled once per width), none narrower than 8 lanes (per device).
COMPACT_RATIO = 4
COMPACT_LEVELS = 3
COMPACT_FLOOR = 8


class RolloutResult(NamedTuple):
    """What a rollout returns.

    ``fitness: f32[P]``: mean return over a member's episodes (non-finite if any episode's is).
    ``returns: f32[P, E]``: undiscounted return of each episode.
    ``lengths: int32[P, E]``: steps each episode took (``<= max_steps``).
    ``obs_stats: ObsStats``: statistics of every live observation in the call (count 0 if
    ``obs_norm`` is off).
    """

    fitness: jax.Array
    returns: jax.Array
    lengths: jax.Array
    obs_stats: obs_norm.ObsStats


class _Carry(NamedTuple):
    state: Any
    obs: jax.Array
    ret: jax.Array  # f32[]
    t: jax.Array  # int32[]
    done: jax.Array  # bool[]
    stats: obs_norm.ObsStats


def _live(c: _Carry, max_steps: int) -> jax.Array:
    """Whether the episode in ``c`` takes another step: not done and below the limit."""
    return jnp.logical_and(~c.done, c.t < max_steps)


def _episode_parts(env: Env, policy: Policy, use_norm: bool):
    """The pieces of one episode: ``start(key) -> (run_key, _Carry)`` and
    ``step(params, norm, run_key, carry) -> _Carry`` (one step, no check of ``done``).

    ``norm``: ``obs_norm.scale`` of the frozen statistics (``(mean, 1/std)``), or ``None``.
    """

    def step(params, norm, run_key, c: _Carry) -> _Carry:
        k_act, k_env = jax.random.split(jax.random.fold_in(run_key, c.t))
        x = obs_norm.apply_scale(norm, c.obs) if use_norm else c.obs
        stats = obs_norm.add(c.stats, c.obs) if use_norm else c.stats
        action = policy.apply(params, x, k_act)
        obs, state, reward, done, _ = env.step(k_env, c.state, action, env.params)
        return _Carry(state, obs, c.ret + reward, c.t + 1, jnp.asarray(done, bool), stats)

    def start(key):
        k_reset, run_key = jax.random.split(key)
        obs, state = env.reset(k_reset, env.params)
        obs = jnp.asarray(obs, jnp.float32)
        stats = obs_norm.init(obs.shape) if use_norm else obs_norm.init(())
        c = _Carry(state, obs, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32),
                   jnp.zeros((), bool), stats)
        return run_key, c

    return start, step


def _episode_fn(env: Env, policy: Policy, max_steps: int, use_norm: bool, early_exit: bool):
    """``(params, key, norm) -> (return f32[], length int32[], ObsStats)`` for one episode: a
    ``while_loop`` (``early_exit``) or a masked ``scan`` of ``max_steps`` steps (the reference)."""
    start, step = _episode_parts(env, policy, use_norm)

    def episode(params, key, norm):
        run_key, c = start(key)
        if early_exit:
            c = jax.lax.while_loop(
                lambda c: _live(c, max_steps),
                lambda c: step(params, norm, run_key, c),
                c,
            )
        else:  # reference path: always max_steps steps, finished episodes masked out

            def masked(c, _):
                new = step(params, norm, run_key, c)
                return jax.tree.map(lambda n, o: jnp.where(c.done, o, n), new, c), None

            c, _ = jax.lax.scan(masked, c, None, length=max_steps)
        return c.ret, c.t, c.stats

    return episode


def compaction_widths(lanes: int, ratio: int, levels: int, floor: int) -> list[int]:
    """The static batch widths of compaction for ``lanes`` episodes (on one device):
    ``lanes, lanes // ratio, ...``, at most ``levels`` of them, none narrower than ``floor``."""
    widths = [lanes]
    while len(widths) < levels and widths[-1] // ratio >= floor:
        widths.append(widths[-1] // ratio)
    return widths


def gather_live(on: jax.Array, lane: jax.Array, width: int, empty: int):
    """Compaction's gather into a batch of ``width`` lanes: ``idx int32[width]`` (the lanes
    where ``on`` holds, first; index the old batch with it), ``filled bool[width]`` (the slots
    that got one) and the new ``lane`` (each slot's episode; ``empty`` where not filled)."""
    idx = jnp.nonzero(on, size=width, fill_value=0)[0]
    filled = jnp.arange(width) < jnp.sum(on)
    return idx, filled, jnp.where(filled, lane[idx], empty)


def scatter_results(out, lane: jax.Array, results):
    """Write each lane's ``results`` (a pytree of ``[width, ...]``) to its episode's row of
    ``out``; lanes marked empty (an out-of-range index) are dropped."""
    return jax.tree.map(lambda o, v: o.at[lane].set(v, mode="drop"), out, results)


def _compacting_fn(env: Env, policy: Policy, max_steps: int, use_norm: bool):
    """``(population, keys [P, E], norm) -> (returns [P, E], lengths [P, E], stats [P])``, run
    in segments of shrinking width.

    The ``B = P * E`` episodes start as ``B`` lanes. A segment steps every lane of its width
    (``segment``: finished ones keep their results) until the live ones fit the next width; they are gathered into it,
    and so on down the widths of ``compaction_widths``, the last segment running until every
    episode has ended. Each segment is one compiled loop (so the step is compiled once per
    width); each lane carries the index of its episode, by which the results are scattered
    back. A lane's steps are the same computation at every width (keys are
    ``fold_in(episode_key, t)``), so the results equal the uncompacted engine's.
    """
    start, step = _episode_parts(env, policy, use_norm)
    batch_step = jax.vmap(step, in_axes=(0, None, 0, 0))

    live = functools.partial(_live, max_steps=max_steps)

    def segment(params, norm, slot_keys, c: _Carry) -> _Carry:
        """One step of every lane. A finished lane keeps its return, length, ``done`` and
        statistics; its environment state and observation step on unmasked (never read again,
        and selecting them back would cost ~4% of a step on CartPole)."""
        new = batch_step(params, norm, slot_keys, c)
        on = live(c)

        def keep(n, o):
            return jnp.where(on.reshape(on.shape + (1,) * (n.ndim - 1)), n, o)

        return new._replace(ret=keep(new.ret, c.ret), t=keep(new.t, c.t),
                            done=keep(new.done, c.done), stats=jax.tree.map(keep, new.stats, c.stats))

    def run(population, keys, norm):
        p, e = keys.shape
        b = p * e
        widths = compaction_widths(b, COMPACT_RATIO, COMPACT_LEVELS, COMPACT_FLOOR)
        run_keys, carry = jax.vmap(start)(keys.reshape(b))
        lane = jnp.arange(b)  # the episode each slot holds; b marks an empty slot
        out = (jnp.zeros((b,), jnp.float32), jnp.zeros((b,), jnp.int32), carry.stats)
        for width, narrower in zip(widths, widths[1:] + [0]):
            episode = jnp.minimum(lane, b - 1)
            params = population if width == b and e == 1 else jax.tree.map(
                lambda x: x[episode // e], population)
            slot_keys = run_keys[episode]
            carry = jax.lax.while_loop(
                lambda c, n=narrower: jnp.sum(live(c)) > n,
                functools.partial(segment, params, norm, slot_keys),
                carry)
            out = scatter_results(out, lane, (carry.ret, carry.t, carry.stats))
            if narrower:
                idx, filled, lane = gather_live(live(carry), lane, narrower, b)
                carry = jax.tree.map(lambda x: x[idx], carry)
                carry = carry._replace(done=carry.done | ~filled)
        ret, length, stats = out
        member_stats = jax.vmap(obs_norm.merge_batch)(
            jax.tree.map(lambda s: s.reshape((p, e) + s.shape[1:]), stats))
        return ret.reshape(p, e), length.reshape(p, e), member_stats

    return run


def make_rollout(
    env: Env,
    policy: Policy,
    *,
    episodes: int = 1,
    max_steps: int | None = None,
    obs_norm_on: bool = True,
    common_random_numbers: bool = False,
    early_exit: bool = True,
    compact: bool | None = None,
    devices: int | None = None,
) -> Callable[[jax.Array, Any, obs_norm.ObsStats], RolloutResult]:
    """Build ``rollout(key, population, stats) -> RolloutResult`` (pure; jit it or call it in jit).

    ``population``: policy params with a leading ``[P]`` axis. ``stats``: the frozen
    ``ObsStats`` to normalize with (``obs_norm.init(obs_shape)`` at first; ignored when
    ``obs_norm_on`` is false). ``episodes``: episodes per member (``E``); fitness is their mean.
    ``max_steps``: step limit (default ``env.max_steps``). ``early_exit=False`` runs every
    episode to ``max_steps`` (a reference, same results, slower). ``compact`` (default: on when
    ``early_exit``): run the episodes in segments that gather the live ones into a batch a
    quarter as wide once three quarters have ended (twice at most: widths ``P * E``, ``/4``,
    ``/16``, not below 8), so a batch costs little more than its live episodes' steps rather
    than ``P * E`` times the longest episode's; same results, but the step is compiled once per
    width. ``compact=False``: one batch to the end, as a ``vmap`` of ``while_loop`` (the
    uncompacted engine). ``devices``: how many devices to split the population over (default:
    all of ``jax.devices()``; ``P`` must divide evenly); each device compacts its own episodes.
    """
    env = check_env(env)
    validation.check_int("episodes", episodes, 1)
    if max_steps is not None:
        validation.check_int("max_steps", max_steps, 1)
    limit = env.max_steps if max_steps is None else max_steps
    validation.check_bool("early_exit", early_exit)
    if compact is None:
        compact = early_exit
    validation.check_bool("compact", compact)
    if compact and not early_exit:
        raise ValueError("compact=True needs early_exit=True: the reference path "
                         "(early_exit=False) runs every episode to max_steps.")
    if devices is not None:
        validation.check_int("devices", devices, 1, jax.device_count())
    n_dev = jax.device_count() if devices is None else devices
    mesh = distributed.population_mesh(jax.devices()[:n_dev]) if n_dev > 1 else None

    if compact:
        population_fn = _compacting_fn(env, policy, limit, obs_norm_on)
    else:
        episode = _episode_fn(env, policy, limit, obs_norm_on, early_exit)

        def member(params, keys, norm):  # keys: [E]
            ret, length, stats = jax.vmap(episode, in_axes=(None, 0, None))(params, keys, norm)
            return ret, length, obs_norm.merge_batch(stats)

        def population_fn(population, keys, norm):  # keys: [P, E]
            return jax.vmap(member, in_axes=(0, 0, None))(population, keys, norm)

    if mesh is not None:
        population_fn = distributed.shard_population(population_fn, mesh, 2, 1)

    def rollout(key, population, stats):
        norm = obs_norm.scale(stats) if obs_norm_on else None  # frozen for the whole call
        p = jax.tree_util.tree_leaves(population)[0].shape[0]
        if mesh is not None:
            distributed.check_divisible(p, mesh)
        if common_random_numbers:
            keys = jnp.broadcast_to(jax.random.split(key, episodes)[None], (p, episodes))
        else:
            keys = jax.random.split(key, p * episodes).reshape(p, episodes)
        returns, lengths, member_stats = population_fn(population, keys, norm)
        total = obs_norm.merge_batch(member_stats)
        return RolloutResult(jnp.mean(returns, axis=1), returns, lengths, total)

    return rollout
