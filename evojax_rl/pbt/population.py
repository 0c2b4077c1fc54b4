"""Population based training as pure functions (Jaderberg et al. 2017, "Population Based
Training of Neural Networks", Algorithm 1).

``N`` members, each a learner given as pure functions (``Learner``), all ``vmap``ped over the
member axis in one compiled program:

- ``init(key, hyperparams) -> member``: one member's state, ``hyperparams`` being
  ``{name: f32[]}``.
- ``step(member, hyperparams, key) -> member``: one training step (Algorithm 1's ``step``).
- ``evaluate(member, key) -> f32[]``: the score PBT ranks by (**maximized**; NaN and infinite
  scores rank worst).

The hyperparameters live in the state (``PBTState.hyperparams``: ``{name: f32[N]}``), drawn from
their priors at step 0. Every ``ready`` steps (a "round": Algorithm 1's ``ready``) every member
is evaluated, the bottom ``truncation`` fraction copy the whole state and hyperparameters of
random members of the top fraction (``exploit.truncation``), and the copies explore
(``explore.explore``: x0.8/x1.2 clipped to the prior, or a fresh draw with
``resample_probability``). ``exploit=False`` keeps the rounds' evaluations and records but
copies nobody: the same program as a set of ``N`` independent runs with hyperparameters drawn
from the same priors (the baseline PBT is judged against, at the same cost).

Devices: with ``devices = d > 1`` the members are split over ``d`` devices
(``distributed.population_mesh``), ``N / d`` per device: each device steps and evaluates its own
members under ``jax.shard_map``; only the ``N`` scores are gathered, and at a round the copied
members' states travel between devices. What PBT itself does (keys, scores' ranking, exploit,
explore, the lineage) does not depend on the split, and each member gets the same key on any
device, so a learner whose arithmetic is elementwise gives the one-device result bit for bit
(asserted in the tests). A learner's batched float arithmetic may round differently when XLA
compiles ``N / d`` members per device instead of ``N`` (a float32 tolerance). Measured on 4 CPU
host devices: the regression learner's parameters differed by up to 1.2e-7 after 6 steps; the
OpenAI-ES learner at the ``pendulum-pbt`` preset's size gave the same bits with observation
normalization off, and with it on (the default) its running observation statistics differed
after one step (mean by up to 3.6e-5; the rollout engine documents this rounding), which changes
the policies' inputs; ES's and PBT's rankings are discontinuous, so from there the split run is
another run of the same method (after 20 steps its best score was -846 against -816), not the
same bits.

Keys: ``PBTState.key`` is split once per step into the members' step keys, their evaluation
keys, the exploit key and the explore key, so a resumed run repeats the same draws.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

from evojax_rl import distributed
from evojax_rl.pbt import exploit as exploit_lib
from evojax_rl.pbt import explore as explore_lib
from evojax_rl.pbt import lineage as lineage_lib
from evojax_rl.pbt import priors as priors_lib
from evojax_rl.validation import check_bool, check_int


class Learner(NamedTuple):
    """One member's training as pure functions (see the module docstring).

    ``names``: the hyperparameters ``step`` reads (each needs a prior). ``test(member, key) ->
    f32[]``: a fresh evaluation for the final judgement (held-out data, fresh episodes; None:
    ``evaluate``). ``params(member)``: what identifies the trained member (hashed in
    ``result.json``; None: the whole member).
    """

    names: tuple
    init: Callable[[jax.Array, dict], Any]
    step: Callable[[Any, dict, jax.Array], Any]
    evaluate: Callable[[Any, jax.Array], jax.Array]
    test: Callable[[Any, jax.Array], jax.Array] | None = None
    params: Callable[[Any], Any] | None = None


class PBTState(NamedTuple):
    """``learner``: the members' states, every leaf ``[N, ...]`` (split over the devices);
    ``hyperparams``: ``{name: f32[N]}``; ``score: f32[N]``: each member's score at the last
    round (NaN before the first; a copy carries its parent's); ``key``: the training stream;
    ``step: int32[]``: steps done; ``lineage``: ``lineage.Lineage``."""

    learner: Any
    hyperparams: dict
    score: jax.Array
    key: jax.Array
    step: jax.Array
    lineage: lineage_lib.Lineage


class PBT(NamedTuple):
    """What ``pbt`` returns: pure functions over ``PBTState`` (jit them, or call them in jit).

    ``init(key) -> PBTState``; ``step(state) -> (state, metrics)``: one step of every member and,
    when the new step count is a multiple of ``ready``, a round; ``metrics`` holds ``step``,
    ``copies`` (members replaced this step), ``best_score``/``median_score``/``worst_score``
    (of ``state.score``) and ``<name>/best`` (the hyperparameters of the member with the best
    score). ``best(state) -> int32[]``: the member with the best score (member 0 before any
    round). ``shardings(state)``: where a state lives, as a pytree of shardings for ``jit``'s
    ``out_shardings`` (the members' states split over the devices, the rest held whole by each;
    None on one device): a chunk that returns its state there runs again without compiling.
    ``priors``: ``{name: Prior}``; ``members``, ``ready``, ``devices``; ``mesh``: the members'
    mesh (None on one device).
    """

    init: Callable[[jax.Array], PBTState]
    step: Callable[[PBTState], tuple[PBTState, dict]]
    best: Callable[[PBTState], jax.Array]
    shardings: Callable[[PBTState], Any]
    learner: Learner
    priors: dict
    members: int
    ready: int
    devices: int
    mesh: Any


def pbt(
    learner: Learner,
    priors: Mapping[str, Any],
    *,
    members: int,
    ready: int,
    rounds: int,
    truncation: float = 0.2,
    resample_probability: float = 0.25,
    perturb_factors: Sequence[float] = explore_lib.FACTORS,
    exploit: bool = True,
    devices: int = 1,
) -> PBT:
    """Population based training of ``members`` copies of ``learner``.

    Args:
      learner: the member's pure functions (``Learner``).
      priors: ``{name: Prior or [kind, low, high]}``, exactly one per ``learner.names``.
      members: ``N >= 2``, enough that ``floor(truncation * N) >= 1``.
      ready: steps between rounds (>= 1).
      rounds: rounds the lineage record keeps (its arrays' length; later rounds still run).
      truncation: the fraction in ``(0, 0.5]`` replaced at each round, and copied from (0.2 as
        in the paper).
      resample_probability: the chance, per hyperparameter of a member that copied, to draw it
        afresh from its prior instead of perturbing it.
      perturb_factors: the two factors of a perturbation, chosen with equal chance.
      exploit: False: no copies and no explore (independent runs, same evaluations).
      devices: devices to split the members over (``N`` must be a multiple).

    Bad settings raise ``ValueError`` in one sentence before anything is traced.
    """
    who = "pbt"
    n_trunc = exploit_lib.check(members, truncation, who)
    check_int("ready", ready, 1, who=who)
    check_int("rounds", rounds, 0, who=who)
    check_bool("exploit", exploit, who=who)
    factors = explore_lib.check(resample_probability, perturb_factors, who)
    check_int("devices", devices, 1, jax.device_count(), who=who)
    if members % devices:
        raise ValueError(f"{who}: members={members} does not split over devices={devices}; use "
                         f"a multiple of {devices} members or devices=1.")
    priors = priors_lib.check_priors(priors, learner.names, who)
    names = sorted(priors)
    p_resample = float(resample_probability)

    mesh = distributed.population_mesh(jax.devices()[:devices]) if devices > 1 else None
    if mesh is not None:
        split = NamedSharding(mesh, PartitionSpec(distributed.AXIS))
        whole = distributed.replicated(mesh)
        step_all = distributed.shard_population(jax.vmap(learner.step), mesh, 3, 0)
        eval_all = distributed.shard_population(jax.vmap(learner.evaluate), mesh, 2, 0)
        init_all = distributed.shard_population(jax.vmap(learner.init), mesh, 2, 0)
    else:
        step_all = jax.vmap(learner.step)
        eval_all = jax.vmap(learner.evaluate)
        init_all = jax.vmap(learner.init)

    def place(state: PBTState) -> PBTState:
        """The members' states split over the devices, everything else held whole by each."""
        if mesh is None:
            return state
        learner_part = jax.tree.map(
            lambda x: jax.lax.with_sharding_constraint(x, split), state.learner)
        rest = jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, whole),
                            state._replace(learner=None))
        return rest._replace(learner=learner_part)

    def init(key: jax.Array) -> PBTState:
        k_hyper, k_members, k_train = jax.random.split(key, 3)
        hyper = {n: priors_lib.sample(priors[n], jax.random.fold_in(k_hyper, i), (members,))
                 for i, n in enumerate(names)}
        states = init_all(jax.random.split(k_members, members), hyper)
        state = PBTState(
            learner=states,
            hyperparams=hyper,
            score=jnp.full((members,), jnp.nan, jnp.float32),
            key=k_train,
            step=jnp.zeros((), jnp.int32),
            lineage=lineage_lib.empty(rounds, hyper),
        )
        return place(state)

    def round_(state: PBTState, k_eval, k_exploit, k_explore) -> tuple[PBTState, jax.Array]:
        scores = eval_all(state.learner, jax.random.split(k_eval, members)).astype(jnp.float32)
        if mesh is not None:
            scores = jax.lax.with_sharding_constraint(scores, whole)
        if exploit:
            parents = exploit_lib.truncation(k_exploit, scores, n_trunc)
            copied = parents != jnp.arange(members)
            learner_state = jax.tree.map(lambda x: x[parents], state.learner)
            inherited = {n: v[parents] for n, v in state.hyperparams.items()}
            explored = jax.vmap(functools.partial(
                explore_lib.explore, priors=priors, resample_probability=p_resample,
                factors=factors))(jax.random.split(k_explore, members), inherited)
            hyper = {n: jnp.where(copied, explored[n], inherited[n]) for n in names}
            new_scores = scores[parents]
        else:
            parents = jnp.arange(members, dtype=jnp.int32)
            copied = jnp.zeros((members,), bool)
            learner_state, hyper, new_scores = state.learner, state.hyperparams, scores
        lin = lineage_lib.record(state.lineage, state.step, parents, scores, hyper)
        new = state._replace(learner=learner_state, hyperparams=hyper, score=new_scores,
                             lineage=lin)
        return new, jnp.sum(copied).astype(jnp.int32)

    def step(state: PBTState) -> tuple[PBTState, dict]:
        key, k_step, k_eval, k_exploit, k_explore = jax.random.split(state.key, 5)
        learner_state = step_all(state.learner, state.hyperparams,
                                 jax.random.split(k_step, members))
        state = state._replace(learner=learner_state, key=key, step=state.step + 1)
        state, copies = jax.lax.cond(
            state.step % ready == 0,
            lambda s: round_(s, k_eval, k_exploit, k_explore),
            lambda s: (s, jnp.zeros((), jnp.int32)),
            state)
        state = place(state)
        ranked = exploit_lib.ranked(state.score)
        top = best(state)
        metrics = {
            "step": state.step,
            "copies": copies,
            "best_score": jnp.max(ranked),
            "median_score": jnp.median(ranked),
            "worst_score": jnp.min(ranked),
            **{f"{n}/best": state.hyperparams[n][top] for n in names},
        }
        return state, metrics

    def best(state: PBTState) -> jax.Array:
        return jnp.argmax(exploit_lib.ranked(state.score)).astype(jnp.int32)

    def shardings(state: PBTState) -> Any:
        if mesh is None:
            return None
        rest = jax.tree.map(lambda _: whole, state._replace(learner=None))
        return rest._replace(learner=jax.tree.map(lambda _: split, state.learner))

    return PBT(init, step, best, shardings, learner, priors, members, ready, devices, mesh)
