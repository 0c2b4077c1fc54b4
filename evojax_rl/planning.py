"""Planning by evolution: model-predictive control whose action sequence is optimized by CEM or
CMA-ES.

Source: "Evolution for action selection" in K. Fragkiadaki and A. Kumar, *Evolutionary Methods
for Policy Search* (CMU 10-703, Fall 2025): instead of a policy's parameters, the strategy
searches a sequence of ``H`` actions, scored by a model's return over the horizon. The same
receding-horizon loop is PETS's (K. Chua et al., "Deep Reinforcement Learning in a Handful of
Trials using Probabilistic Dynamics Models", NeurIPS 2018): plan, execute the first action,
replan from the state it reached. The warm start (the previous plan shifted by one step) is the
"shift initialization" of iCEM (C. Pinneri et al., "Sample-efficient Cross-Entropy Method for
Real-time Planning", CoRL 2020).

At every control step of an episode:

1. ``model.start(obs, env_state)`` gives the model's state (the true environment: its state).
2. The strategy is initialized at the warm plan ``x0 = shift(previous plan)`` with its spread
   *re-initialized* (``strategy.init``: CEM's ``std = sigma``, CMA-ES's ``C = I`` and
   ``sigma``), because the previous step's shrunken spread says nothing about the new last
   step of the plan. It then runs ``iterations`` generations of ask / score / tell, scoring
   each candidate plan by the model's return over the horizon: the sum of its rewards, stopping
   at its first ``done`` (that step's reward counts, later ones do not) and at the episode's
   step limit. All candidates of one control step share the model's key (common random
   numbers), so their returns compare.
3. The plan kept is the best scored among the warm plan, every candidate and the strategy's
   final mean (so, with a deterministic model, never worse in the model than the warm plan).
   Its first action is executed in the environment; the plan shifted by one step, the new last
   step set to the neutral action (the centre of a Box, all-zero logits), is the next step's
   warm plan.

Plans are continuous arrays ``[H, D]`` in an encoding fixed by the action space:

- ``Box``: ``D`` = the action's size; a plan holds actions scaled to ``[-1, 1]`` per
  coordinate (``action = centre + half_width * clip(x, -1, 1)``), so that one ``sigma`` suits
  every environment; coordinates with an infinite bound are used as they are (not clipped).
- ``Discrete(n)``: ``D = n - 1`` logits per step, those of actions ``1..n-1`` against action
  0's, fixed at 0 (one number per step for CartPole: action 1 where it is positive); the action
  is the ``argmax``. Fixing one logit removes a direction that changes nothing, so CMA-ES's
  covariance is ``(n-1)^2/n^2`` the size.

A whole episode is one compiled loop (``lax.scan`` over control steps, each running the
strategy's generations in a ``fori_loop``); a batch of episodes is ``vmap``ped, and ``run``
executes it in compiled chunks of control steps (a progress bar between chunks), skipping the
rest of a chunk once every episode of the batch has ended.

Returns are **maximized** (they are the strategy's fitness).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation
from evojax_rl.problems.env import Box, Discrete, Env, check_env
from evojax_rl.same_function import SameFunction, value_key
from evojax_rl.strategies import base

STRATEGIES = ("cem", "cma_es")

# Settings measured on 16 episodes (benchmarks/planning.py). Pendulum-v1: mean return >= -200
# (a trained ES policy: about -140) for seeds 0 and 1, both strategies. CartPole-v1 needs a long
# horizon: its reward (1 per step) says nothing of the cart drifting towards the edge until the
# edge is within the horizon; CEM's setting kept all 16 episodes up for 500 steps with seeds 0-5
# (popsize 32 lost one episode of 16 with seed 2). CMA-ES's is a compromise for CPUs: at popsize
# 16 and 2 generations it never decomposes its covariance (the lazy eigendecomposition is due
# later), which keeps a 100-D plan cheap, but it loses an episode or two of 16 with some seeds;
# a larger popsize decomposes the 100 x 100 covariance every generation (~50x slower on 2 cores).
DEFAULTS = {
    "Pendulum-v1": {"cem": dict(horizon=20, popsize=32, iterations=5),
                    "cma_es": dict(horizon=30, popsize=32, iterations=5)},
    "CartPole-v1": {"cem": dict(horizon=100, popsize=64, iterations=2),
                    "cma_es": dict(horizon=100, popsize=16, iterations=2)},
}
GENERIC = {"cem": dict(horizon=30, popsize=64, iterations=5),
           "cma_es": dict(horizon=30, popsize=32, iterations=5)}


def settings(env_name: str, strategy: str) -> dict:
    """Default ``horizon``, ``popsize`` and ``iterations`` for planning ``env_name`` with the
    named ``strategy`` (``DEFAULTS``, else ``GENERIC``)."""
    validation.check_choice("strategy", strategy, STRATEGIES)
    return dict(DEFAULTS.get(env_name, GENERIC)[strategy])


class Model(NamedTuple):
    """What the planner imagines with, as pure functions (for one episode, no batch axis).

    - ``start(obs, env_state) -> model_state``: the model's state at the current control step,
      from the environment's observation and state (the true model keeps ``env_state``; a
      learned model would encode ``obs``).
    - ``step(key, model_state, action, params) -> (model_state, reward f32[], done bool[])``:
      one imagined step; ``action`` as the environment takes it.
    - ``params``: the model's parameters (any pytree), passed back verbatim.
    """

    start: Callable[[Any, Any], Any]
    step: Callable[[Any, Any, Any, Any], tuple[Any, Any, Any]]
    params: Any


def env_model(env: Env) -> Model:
    """The true environment as the model: its state is the model state, its step the model."""

    def start(obs, env_state):
        del obs
        return env_state

    def step(key, state, action, params):
        _, state, reward, done, _ = env.step(key, state, action, params)
        return state, jnp.reshape(jnp.asarray(reward, jnp.float32), ()), jnp.reshape(done, ())

    return Model(start, step, env.params)


class EpisodeState(NamedTuple):
    """One episode being planned (``vmap``ped: every field gains a leading ``[E]``).

    ``D``: the plan's width per step (see the module docstring); ``H``: the horizon.
    """

    env_state: Any  # the environment's state
    obs: jax.Array  # [*obs_shape] the current observation
    plan: jax.Array  # [H, D] the warm plan for the next control step
    ret: jax.Array  # f32[] return so far
    t: jax.Array  # int32[] control steps taken
    done: jax.Array  # bool[] ended (the environment's done, or t == max_steps)
    key: jax.Array  # the episode's key; control step t uses fold_in(key, t)


class StepRecord(NamedTuple):
    """What one control step did (a trajectory: a leading ``[T]``, and ``[E]`` when batched).

    Fields of a step taken after the episode ended (``live`` false) are meaningless.
    """

    obs: jax.Array  # [*obs_shape] observation the plan started from
    action: jax.Array  # int32[] or f32[*action_shape]: the action executed
    reward: jax.Array  # f32[] its reward (0 where not live)
    planned_return: jax.Array  # f32[] the model's return of the plan kept
    live: jax.Array  # bool[] whether the step was taken (the episode had not ended)


class Planner(NamedTuple):
    """Model-predictive control by evolution, as pure functions (build with ``make_planner``).

    - ``reset(key) -> EpisodeState``: a fresh episode with the initial (neutral) plan.
    - ``step(episode) -> (episode, StepRecord)``: one control step (plan, act, shift); a step of
      an ended episode changes nothing.
    - ``plan(key, model_state, warm [H, D], steps_left int32[]) -> (plan [H, D], return f32[])``:
      one control step's optimization from the warm plan; the return counts at most
      ``steps_left`` steps.
    - ``episode(key) -> (EpisodeState, StepRecord [max_steps])``: a whole episode (one scan).
    - ``decode(x [D]) -> action``: one step of a plan as the environment's action.
    - ``initial_plan``: ``[H, D]`` neutral plan (host array); ``horizon``, ``max_steps``.
    """

    reset: Callable[[jax.Array], EpisodeState]
    step: Callable[[EpisodeState], tuple[EpisodeState, StepRecord]]
    plan: Callable[..., tuple[jax.Array, jax.Array]]
    episode: Callable[[jax.Array], tuple[EpisodeState, StepRecord]]
    decode: Callable[[jax.Array], jax.Array]
    initial_plan: np.ndarray
    horizon: int
    max_steps: int


def shift(plan: jax.Array, fill: jax.Array) -> jax.Array:
    """The warm start: ``plan [H, D]`` moved one step earlier, ``fill [D]`` as the new last step."""
    return jnp.concatenate([plan[1:], jnp.asarray(fill, plan.dtype)[None]], axis=0)


class _Encoding(NamedTuple):
    width: int  # D
    neutral: np.ndarray  # [D]
    low: np.ndarray  # [D] bounds of a plan's coordinates (-inf: none)
    high: np.ndarray  # [D]
    decode: Callable[[jax.Array], jax.Array]


def _encoding(space: Discrete | Box) -> _Encoding:
    """How a plan's step ``[D]`` maps to an action of ``space`` (module docstring)."""
    if isinstance(space, Discrete):
        n = validation.check_int("action_space.n", space.n, 1)
        width = max(n - 1, 1)

        def decode_discrete(x):
            # Logits of actions 1..n-1 against action 0's, fixed at 0 (n = 1: always 0).
            if n == 1:
                return jnp.zeros((), jnp.int32)
            return jnp.argmax(jnp.concatenate([jnp.zeros((1,), x.dtype), x])).astype(jnp.int32)

        inf = np.full((width,), np.inf, np.float32)
        return _Encoding(width, np.zeros((width,), np.float32), -inf, inf, decode_discrete)
    shape = tuple(int(s) for s in space.shape)
    size = int(np.prod(shape))
    try:
        low = np.broadcast_to(np.asarray(space.low, np.float64), shape).reshape(size)
        high = np.broadcast_to(np.asarray(space.high, np.float64), shape).reshape(size)
    except (TypeError, ValueError):
        raise ValueError(f"action_space {space!r}: low and high must be numbers or arrays "
                         f"broadcastable to shape {shape}.") from None
    if np.any(np.isnan(low)) or np.any(np.isnan(high)) or np.any(low > high):
        raise ValueError(f"action_space {space!r}: low must be <= high everywhere, without NaN.")
    bounded = np.isfinite(low) & np.isfinite(high)
    lo_b, hi_b = np.where(bounded, low, -1.0), np.where(bounded, high, 1.0)  # no inf - inf
    centre = ((lo_b + hi_b) / 2).astype(np.float32)
    half = ((hi_b - lo_b) / 2).astype(np.float32)
    lo_x = np.where(bounded, -1.0, -np.inf).astype(np.float32)
    hi_x = np.where(bounded, 1.0, np.inf).astype(np.float32)
    # A one-sided bound is kept by clipping the action itself.
    a_lo, a_hi = low.astype(np.float32), high.astype(np.float32)

    def decode_box(x):
        a = centre + half * jnp.clip(x, lo_x, hi_x)
        return jnp.clip(a, a_lo, a_hi).reshape(shape)

    neutral = np.zeros((size,), np.float32)
    return _Encoding(size, neutral, lo_x, hi_x, decode_box)


def _check_traceable(env: Env, model: Model, enc: _Encoding) -> None:
    """Trace ``env.reset``, ``env.step``, ``model.start`` and ``model.step`` on abstract values
    (``jax.eval_shape``: nothing runs); a failure is one sentence naming the environment."""
    key = jax.random.key(0)
    action = jax.eval_shape(enc.decode, jax.ShapeDtypeStruct((enc.width,), jnp.float32))

    def fail(what, e):
        first = (str(e).strip().splitlines() or [""])[0]
        if len(first) > 160:
            first = first[:157] + "..."
        raise ValueError(
            f"environment {env.name!r}: its {what} cannot be traced by JAX "
            f"({type(e).__name__}: {first}); planning needs pure JAX functions, with no Python "
            "`if` on traced values and no NumPy calls on them."
        ) from None

    try:
        obs, state = jax.eval_shape(env.reset, key, env.params)
    except Exception as e:  # noqa: BLE001 - any failure to trace is the user's environment's
        fail("reset", e)
    try:
        jax.eval_shape(env.step, key, state, action, env.params)
    except Exception as e:  # noqa: BLE001
        fail("step", e)
    try:
        mstate = jax.eval_shape(model.start, obs, state)
        out = jax.eval_shape(model.step, key, mstate, action, model.params)
    except Exception as e:  # noqa: BLE001
        fail("model", e)
    try:
        _, reward, done = out
        ok = reward.shape == () and done.shape == ()
    except (TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise ValueError(f"environment {env.name!r}: the model's step must return "
                         "(state, reward f32[], done bool[]); got a different structure.")


def _named_strategy(name: str, popsize: int | None, sigma: float) -> base.Strategy:
    from evojax_rl.strategies.cem import cem
    from evojax_rl.strategies.cma_es import cma_es

    return cem(popsize, sigma=sigma) if name == "cem" else cma_es(popsize, sigma=sigma)


def make_planner(
    env: Env,
    strategy: str | base.Strategy = "cem",
    *,
    horizon: int,
    iterations: int,
    popsize: int | None = None,
    sigma: float | None = None,
    model: Model | Env | None = None,
    max_steps: int | None = None,
) -> Planner:
    """Build a ``Planner``: model-predictive control whose plans are optimized by ``strategy``.

    Args:
      env: the environment the actions are executed in (an ``Env``; ``Discrete`` or ``Box``
        actions).
      strategy: ``"cem"`` or ``"cma_es"`` (our ``strategies.cem`` / ``strategies.cma_es`` built
        with ``popsize`` and ``sigma``), or any ``Strategy`` (then ``popsize`` and ``sigma``
        are its own: leave them None). Its ``x0`` is the plan, a ``[H, D]`` float32 array.
      horizon: ``H`` >= 1, control steps planned ahead.
      iterations: generations of the strategy per control step (>= 1).
      popsize: candidate plans per generation for a named strategy (None: the strategy's
        default for dimension ``H * D``).
      sigma: the named strategy's initial spread in plan coordinates (> 0; None: 0.5 for Box
        actions, whose plan coordinates lie in ``[-1, 1]``, 1.0 for logits).
      model: what plans are scored with: a ``Model``, an ``Env`` (its true dynamics), or None
        for ``env`` itself.
      max_steps: the episode's step limit (default ``env.max_steps``); planned returns stop
        there too.

    Every setting is checked here, and the environment's and the model's functions are traced
    once on abstract values, so a step that JAX cannot trace fails now, in one sentence.
    """
    env = check_env(env)
    horizon = validation.check_int("horizon", horizon, 1)
    iterations = validation.check_int("iterations", iterations, 1)
    limit = env.max_steps if max_steps is None else validation.check_int("max_steps", max_steps, 1)
    if isinstance(strategy, str):
        validation.check_choice("strategy", strategy, STRATEGIES)
        if popsize is not None:
            popsize = base.check_popsize(popsize, who=strategy)
        if sigma is not None:
            validation.check_positive("sigma", sigma)
        default_sigma = 1.0 if isinstance(env.action_space, Discrete) else 0.5
        strategy = _named_strategy(strategy, popsize, default_sigma if sigma is None else sigma)
    elif isinstance(strategy, base.Strategy):
        if popsize is not None or sigma is not None:
            raise ValueError("popsize and sigma apply to a named strategy ('cem', 'cma_es'); "
                             "build your Strategy with them instead.")
    else:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))} or a "
                         f"Strategy, got {strategy!r}.")
    if model is None:
        given, model = None, env_model(env)
    elif isinstance(model, Env):
        given, model = model, env_model(check_env(model))
    elif not isinstance(model, Model):
        raise ValueError(f"model must be a planning.Model, an Env or None, got "
                         f"{type(model).__name__}.")
    else:
        given = model
    enc = _encoding(env.action_space)
    _check_traceable(env, model, enc)
    # Equal configurations share one Planner (and so jit's compiled programs): the key compares
    # functions by their code and the values they read, arrays and other objects by identity
    # (an environment from ``make`` is the same object every time).
    cache_key = value_key((env, given, strategy, horizon, iterations, limit))
    planner = _PLANNERS.get(cache_key)
    if planner is None:
        if len(_PLANNERS) >= _CACHE_SIZE:
            _PLANNERS.pop(next(iter(_PLANNERS)))
        planner = _PLANNERS[cache_key] = _assemble(env, model, strategy, enc, horizon,
                                                   iterations, limit)
    return planner


_CACHE_SIZE = 32
_PLANNERS: dict = {}


def _assemble(env, model, strategy, enc, horizon, iterations, limit) -> Planner:
    init_plan = np.broadcast_to(enc.neutral, (horizon, enc.width)).copy()
    lo_x, hi_x, neutral, decode = enc.low, enc.high, enc.neutral, enc.decode

    def value(key, mstate, x, steps_left):
        """The model's return of plan ``x [H, D]``: rewards summed until done or the limit."""

        def body(c, inp):
            s, alive, ret = c
            h, xh = inp
            alive = alive & (h < steps_left)
            s, reward, done = model.step(jax.random.fold_in(key, h), s, decode(xh), model.params)
            ret = ret + jnp.where(alive, reward, 0.0)  # where, not *: a NaN after done is ignored
            return (s, alive & ~done, ret), None

        (_, _, ret), _ = jax.lax.scan(
            body, (mstate, jnp.ones((), bool), jnp.zeros((), jnp.float32)),
            (jnp.arange(horizon), x))
        return ret

    def plan(key, mstate, warm, steps_left=horizon):
        k_init, k_ask, k_model = jax.random.split(key, 3)
        steps_left = jnp.asarray(steps_left, jnp.int32)
        score = jax.vmap(lambda x: value(k_model, mstate, x, steps_left))
        state = strategy.init(k_init, warm)
        best_f = score(warm[None])[0]

        def generation(i, c):
            state, best_x, best_f = c
            pop, state = strategy.ask(jax.random.fold_in(k_ask, i), state)
            # Scored as executed (clipped to the box); told as sampled, so that the strategy's
            # own update sees its samples.
            pop_x = jnp.clip(pop, lo_x, hi_x)
            fitness = score(pop_x)
            state = strategy.tell(pop, fitness, state)
            clean = base.sanitize_fitness(fitness)
            j = jnp.argmax(clean)
            better = jnp.isfinite(fitness[j]) & (clean[j] > best_f)
            return (state, jnp.where(better, pop_x[j], best_x),
                    jnp.where(better, clean[j], best_f))

        state, best_x, best_f = jax.lax.fori_loop(0, iterations, generation, (state, warm, best_f))
        mean = jnp.clip(strategy.mean(state), lo_x, hi_x)
        mean_f = score(mean[None])[0]
        better = jnp.isfinite(mean_f) & (mean_f > best_f)
        return jnp.where(better, mean, best_x), jnp.where(better, mean_f, best_f)

    def reset(key):
        k_reset, k_run = jax.random.split(key)
        obs, state = env.reset(k_reset, env.params)
        return EpisodeState(state, obs, jnp.asarray(init_plan), jnp.zeros((), jnp.float32),
                            jnp.zeros((), jnp.int32), jnp.zeros((), bool), k_run)

    def step(e: EpisodeState):
        k_plan, k_env = jax.random.split(jax.random.fold_in(e.key, e.t))
        best, planned = plan(k_plan, model.start(e.obs, e.env_state), e.plan, limit - e.t)
        action = decode(best[0])
        obs, env_state, reward, done, _ = env.step(k_env, e.env_state, action, env.params)
        reward = jnp.reshape(jnp.asarray(reward, jnp.float32), ())
        t = e.t + 1
        new = EpisodeState(env_state, obs, shift(best, neutral), e.ret + reward, t,
                           jnp.reshape(done, ()) | (t >= limit), e.key)
        live = ~e.done
        new = jax.tree.map(lambda n, o: jnp.where(live, n, o), new, e)
        return new, StepRecord(e.obs, action, jnp.where(live, reward, 0.0), planned, live)

    def episode(key):
        return jax.lax.scan(lambda e, _: step(e), reset(key), None, length=limit)

    return Planner(reset, step, plan, episode, decode, init_plan, horizon, limit)


# --- running batches of episodes ----------------------------------------------------------------


class PlanResult(NamedTuple):
    """What ``run`` returns (host values). ``E``: episodes; ``T``: control steps run."""

    returns: np.ndarray  # f32[E] each episode's return
    lengths: np.ndarray  # int32[E] each episode's control steps
    mean_return: float
    steps: int  # T: control steps the batch ran (its longest episode's)
    seconds_per_step: float  # wall seconds per control step of the whole batch, compile excluded
    compile_seconds: float  # tracing and compiling the programs (the persistent cache may hit)
    run_seconds: float  # wall seconds of the episodes themselves, compile excluded
    trajectory: StepRecord | None  # [E, T, ...] when ``record``, else None


@functools.partial(jax.jit, static_argnames=("reset",))
def _reset(keys, *, reset):
    return jax.vmap(reset)(keys)


@functools.partial(jax.jit, static_argnames=("step", "length"))
def _advance(episodes, *, step, length):
    """``length`` control steps of every episode (``[E]``-batched), as one scan; once every
    episode has ended, the rest of the chunk costs nothing (a ``cond`` on the whole batch)."""
    batched = jax.vmap(step)
    empty = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                         jax.eval_shape(batched, episodes)[1])

    def body(e, _):
        return jax.lax.cond(jnp.any(~e.done), batched, lambda e: (e, empty), e)

    return jax.lax.scan(body, episodes, None, length=length)


@functools.lru_cache(maxsize=16)
def _compile(reset, step, chunk, keys):
    """The compiled ``_reset`` and ``_advance`` for these functions and shapes (compiled ahead
    of time, so that ``run`` can time compilation apart; cached, so that it happens once)."""
    reset_c = _reset.lower(keys, reset=reset).compile()
    state = jax.eval_shape(functools.partial(_reset, reset=reset), keys)
    return reset_c, _advance.lower(state, step=step, length=chunk).compile()


def run(planner: Planner, key: jax.Array, episodes: int = 1, *, chunk: int | None = None,
        progress: bool = False, record: bool = False, desc: str = "plan") -> PlanResult:
    """Plan ``episodes`` episodes at once (``vmap``) until each ends; returns a ``PlanResult``.

    The episodes advance in compiled chunks of ``chunk`` control steps (default: the whole
    episode in one); between chunks the host updates a tqdm progress bar on stderr
    (``progress``) and stops once every episode has ended. ``seconds_per_step`` is the wall time
    of the chunks divided by the control steps the batch took (every episode advancing one
    step), compilation excluded: it is timed apart, ahead of the run (``compile_seconds``).
    ``record``: also return every step's ``StepRecord`` as ``trajectory`` (``[E, T, ...]``).
    """
    if not isinstance(planner, Planner):
        raise ValueError(f"planner must be a Planner (make_planner), got {type(planner).__name__}.")
    validation.check_key(key)
    episodes = validation.check_int("episodes", episodes, 1)
    limit = planner.max_steps
    chunk = limit if chunk is None else validation.check_int("chunk", chunk, 1)
    chunk = min(chunk, limit)
    validation.check_bool("progress", progress)
    validation.check_bool("record", record)
    reset, step = SameFunction(planner.reset), SameFunction(planner.step)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=limit, desc=desc, unit="step", dynamic_ncols=True, postfix="compiling")
    records, taken, shown = [], 0, 0
    try:
        t0 = time.perf_counter()
        keys = jax.random.split(key, episodes)
        reset_c, advance = _compile(reset, step, chunk,
                                    jax.ShapeDtypeStruct(keys.shape, keys.dtype))
        compile_seconds = time.perf_counter() - t0
        if bar is not None:
            bar.set_postfix_str("", refresh=False)
            bar.unpause()  # the bar's rate leaves compilation out
        t0 = time.perf_counter()
        state = reset_c(keys)
        while taken < limit:
            state, rec = advance(state)
            done, t, ret = jax.device_get((state.done, state.t, state.ret))
            if record:
                records.append(jax.device_get(rec))
            now = int(t.max())
            if bar is not None:
                bar.set_postfix_str(f"mean return {float(np.mean(ret)):.1f}", refresh=False)
                bar.update(now - shown)
                shown = now
            taken += chunk
            if done.all():
                break
        run_seconds = time.perf_counter() - t0
    finally:
        if bar is not None:
            bar.close()
    returns, lengths = jax.device_get((state.ret, state.t))
    steps = int(lengths.max())
    trajectory = None
    if record:
        stacked = jax.tree.map(lambda *xs: np.concatenate(xs, 0), *records)
        trajectory = jax.tree.map(lambda x: np.swapaxes(x, 0, 1)[:, :steps], stacked)
    return PlanResult(
        returns=np.asarray(returns),
        lengths=np.asarray(lengths),
        mean_return=float(np.mean(returns)),
        steps=steps,
        seconds_per_step=run_seconds / max(steps, 1),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        trajectory=trajectory,
    )
