"""Approximate (neural) cross-entropy method: an MLP classifier fitted to the elite's actions.

The lecture's "approximate crossentropy method": the policy ``pi_W(a|s)`` is a neural network
(a flax MLP with a softmax over the ``A`` actions). Each iteration:

1. Play ``N`` sessions, sampling actions from ``pi_W``.
2. Keep the elite: the ``M = ceil(N (100 - q) / 100)`` best sessions (``sessions.elite_mask``).
3. Maximize the likelihood of the elite's actions, ``sum_{(s, a) in elite} log pi_W(a|s)``:
   ``epochs`` full-batch steps of optax's Adam on the mean cross-entropy over the elite pairs.

The elite sessions are gathered into a fixed buffer ``[M, T]`` (``T`` the step limit) with a
weight mask ``alive[M, T]``: sessions have different lengths, and the padding steps get weight 0,
so the loss is ``sum(w * -log pi(a|s)) / sum(w)``: every shape is static and the whole iteration
(sessions, selection, fit) is one compiled function; ``run`` scans ``iterations`` of it.
The Adam state carries over from one iteration to the next (the network is warm-started).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from evojax_rl import validation
from evojax_rl.cem_rl import sessions as sessions_lib
from evojax_rl.policies import ACTIVATIONS, MLP


class NeuralCEMState(NamedTuple):
    """``params``: the MLP's flax params; ``opt_state``: Adam's; ``key``: the next iteration's;
    ``iteration: int32[]`` (iterations done)."""

    params: Any
    opt_state: Any
    key: jax.Array
    iteration: jax.Array


class NeuralCEM(NamedTuple):
    """The method as functions (see ``neural_cem``).

    ``init(key) -> NeuralCEMState``: random MLP weights.
    ``step(state) -> (state, metrics)``: one iteration, pure (jit it or scan it).
    ``run(state, iterations) -> (state, metrics)``: ``iterations`` (a Python int) steps in one
    compiled ``lax.scan``; each metric stacked to ``[iterations]``.
    ``fit(params, opt_state, obs, actions, weights) -> (params, opt_state, losses)``: the fit
    alone, on ``obs: f32[..., *obs_shape]``, ``actions: int[...]``, ``weights: f32[...]`` (0 on
    padding); ``losses: f32[epochs]``, the weighted cross-entropy before each Adam step.
    ``log_likelihood(params, obs, actions, weights) -> f32[]``: the weighted mean
    ``log pi(a|s)``.
    ``logits(params, obs) -> f32[A]``: for one observation.
    ``evaluate(params, key, greedy) -> Sessions``: ``N`` fresh sessions with the sampling policy
    (``greedy=False``) or the argmax one (``greedy=True``, a Python bool), jit-compiled.

    Metrics per iteration (of the sessions it played, before its fit): ``mean_return``,
    ``max_return``, ``threshold`` (lowest elite return), ``mean_length``, ``loss`` (the
    cross-entropy after the fit, on the elite).
    """

    init: Callable
    step: Callable
    run: Callable
    fit: Callable
    log_likelihood: Callable
    logits: Callable
    evaluate: Callable


_WHO = "neural_cem"


def neural_cem(env, *, sessions: int = 100, percentile: float = 70.0,
               hidden: Sequence[int] = (64, 64), activation: str = "tanh",
               learning_rate: float = 1e-2, epochs: int = 10,
               max_steps: int | None = None) -> NeuralCEM:
    """Neural CEM on ``env`` (an ``Env`` with a ``Discrete`` action space).

    Args:
      env: the environment (e.g. ``problems.make("CartPole-v1")``).
      sessions: ``N``, episodes played per iteration (>= 1).
      percentile: ``q`` in ``[0, 100)``; the best ``ceil(N (100 - q) / 100)`` sessions are the
        elite.
      hidden: the MLP's hidden widths; ``activation``: ``"tanh"``, ``"relu"`` or ``"gelu"``.
      learning_rate: Adam's step size (> 0).
      epochs: Adam steps on the whole elite buffer per iteration (>= 1).
      max_steps: step limit of a session (default ``env.max_steps``).
    """
    env = sessions_lib.check_discrete_env(env, _WHO)
    sessions = validation.check_int("sessions", sessions, 1, who=_WHO)
    percentile = sessions_lib.check_percentile(percentile, _WHO)
    if isinstance(hidden, int) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden):
        raise ValueError(f"{_WHO}: hidden must be a sequence of ints >= 1, got {hidden!r}.")
    validation.check_choice("activation", activation, tuple(ACTIVATIONS), who=_WHO)
    validation.check_positive("learning_rate", learning_rate, who=_WHO)
    epochs = validation.check_int("epochs", epochs, 1, who=_WHO)
    limit = env.max_steps if max_steps is None else validation.check_int(
        "max_steps", max_steps, 1, who=_WHO)
    n_actions = int(env.action_space.n)
    obs_shape = tuple(env.observation_space.shape)
    n_elite = sessions_lib.elite_size(sessions, percentile)
    module = MLP(hidden=tuple(hidden), out=n_actions, activation=activation)
    optimizer = optax.adam(learning_rate)

    def logits(params, obs):
        return module.apply(params, obs)

    def batched_logp(params, obs, actions):
        flat_obs = jnp.reshape(obs, (-1,) + obs_shape)
        logp = jax.nn.log_softmax(jax.vmap(lambda o: logits(params, o))(flat_obs))
        picked = jnp.take_along_axis(logp, jnp.reshape(actions, (-1, 1)).astype(jnp.int32), 1)
        return picked[:, 0]

    def log_likelihood(params, obs, actions, weights):
        w = jnp.ravel(jnp.asarray(weights, jnp.float32))
        return jnp.sum(w * batched_logp(params, obs, actions)) / jnp.maximum(w.sum(), 1e-12)

    def fit(params, opt_state, obs, actions, weights):
        loss_fn = lambda p: -log_likelihood(p, obs, actions, weights)  # noqa: E731

        def one(carry, _):
            p, s = carry
            loss, grads = jax.value_and_grad(loss_fn)(p)
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, opt_state), losses = jax.lax.scan(one, (params, opt_state), None, length=epochs)
        return params, opt_state, losses

    def sampler(params, greedy):
        def one(key, obs):
            z = logits(params, obs)
            return jnp.argmax(z) if greedy else jax.random.categorical(key, z)
        return one

    def play(params, key, greedy=False):
        return sessions_lib.sample_sessions(env, sampler(params, greedy), key, sessions, limit)

    def init(key):
        validation.check_key(key)
        k_params, key = jax.random.split(key)
        params = module.init(k_params, jnp.zeros(obs_shape, jnp.float32))
        return NeuralCEMState(params=params, opt_state=optimizer.init(params), key=key,
                              iteration=jnp.zeros((), jnp.int32))

    def step(state):
        key, k_play, k_elite = jax.random.split(state.key, 3)
        played = play(state.params, k_play)
        elite = sessions_lib.elite_mask(k_elite, played.returns, percentile)
        idx = jnp.nonzero(elite, size=n_elite)[0]  # exactly n_elite are True
        obs, actions, weights = played.obs[idx], played.actions[idx], played.alive[idx]
        params, opt_state, _ = fit(state.params, state.opt_state, obs, actions, weights)
        metrics = {
            "mean_return": played.returns.mean(),
            "max_return": played.returns.max(),
            "threshold": jnp.min(played.returns[idx]),
            "mean_length": played.lengths.mean(),
            "loss": -log_likelihood(params, obs, actions, weights),
        }
        return NeuralCEMState(params, opt_state, key, state.iteration + 1), metrics

    run = sessions_lib.iterations_runner(step, _WHO)

    evaluate_jit = jax.jit(play, static_argnums=2)

    def evaluate(params, key, greedy=False):
        validation.check_bool("greedy", greedy, who=_WHO)
        return evaluate_jit(params, key, bool(greedy))

    return NeuralCEM(init=init, step=step, run=run, fit=jax.jit(fit),
                     log_likelihood=jax.jit(log_likelihood), logits=logits, evaluate=evaluate)
