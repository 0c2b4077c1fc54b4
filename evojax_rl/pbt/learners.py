"""Two learners for PBT, each a ``population.Learner`` of pure functions.

``es_learner``: OpenAI-ES (``strategies.open_es``, Salimans et al. 2017) training an MLP policy
on an environment; PBT tunes its ``learning_rate`` (in the optax state's ``hyperparams``) and
``sigma``. A member is ``ESMember(es: OpenESState, obs_stats: ObsStats)``; a step is one
generation (``ask``, ``popsize x episodes`` episodes, ``tell``, merge the observation
statistics). Its score is the mean policy's return on ``score_episodes`` episodes (drawn at each
round; the same cost with exploit on or off), its ``test`` the mean policy on ``test_episodes``
fresh episodes. Split over devices, its observation statistics round differently (see
``population``); with ``obs_norm_on=False`` a split run gives the one-device bits.

``regression_learner``: an MLP fitted by an optax optimizer (``optax.inject_hyperparams``, so
the learning rate is in the optimizer state) to a synthetic regression task: ``y = sum_j
v_j tanh(w_j . x) + noise``, ``x ~ N(0, I_dim)``, with train, validation and test sets drawn
from ``data_seed``. A step is ``updates`` minibatch steps; the score is minus the validation
mean squared error, ``test`` minus the test set's (held out from PBT's choices). NaN when a
member diverged, which ranks it worst.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from evojax_rl import obs_norm
from evojax_rl.pbt.population import Learner
from evojax_rl.policies import mlp_policy
from evojax_rl.problems.env import make
from evojax_rl.rollout import make_rollout
from evojax_rl.strategies import open_es
from evojax_rl.validation import check_int, check_number, check_positive


class ESMember(NamedTuple):
    """``es``: the ``OpenESState`` (``mean: [D]``, ``sigma: []``, ...); ``obs_stats``:
    ``ObsStats`` over ``[*obs_shape]``."""

    es: Any
    obs_stats: obs_norm.ObsStats


ES_HYPERPARAMS = ("learning_rate", "sigma")


def es_learner(env: str = "Pendulum-v1", *, hidden=(16, 16), popsize: int = 32,
               episodes: int = 1, score_episodes: int = 4, test_episodes: int = 16,
               max_steps: int | None = None, sigma: float = 0.05,
               learning_rate: float = 0.02, obs_norm_on: bool = True) -> Learner:
    """OpenAI-ES on ``env`` as a PBT learner over ``learning_rate`` and ``sigma`` (the values
    given here are only the defaults ``init`` starts from before PBT sets its own)."""
    who = "es_learner"
    check_int("popsize", popsize, 2, who=who)
    check_int("episodes", episodes, who=who)
    check_int("score_episodes", score_episodes, who=who)
    check_int("test_episodes", test_episodes, who=who)
    environment = make(env, max_steps=max_steps)
    policy = mlp_policy(environment, tuple(hidden))
    strategy = open_es(popsize, sigma=sigma, learning_rate=learning_rate)
    kw = dict(obs_norm_on=obs_norm_on, compact=False, devices=1)
    rollout = make_rollout(environment, policy, episodes=episodes, **kw)
    score_rollout = make_rollout(environment, policy, episodes=score_episodes, **kw)
    test_rollout = make_rollout(environment, policy, episodes=test_episodes, **kw)
    obs_shape = environment.observation_space.shape if obs_norm_on else ()

    def with_hyperparams(es, h):
        dt = es.mean.dtype
        opt = es.opt_state._replace(hyperparams={
            **es.opt_state.hyperparams, "learning_rate": h["learning_rate"].astype(dt)})
        return es._replace(sigma=h["sigma"].astype(dt), opt_state=opt)

    def init(key, h):
        x0 = policy.init(key)
        es = strategy.init(jax.random.fold_in(key, 1), x0, sigma=h["sigma"],
                           learning_rate=h["learning_rate"])
        return ESMember(es, obs_norm.init(obs_shape))

    def step(m: ESMember, h, key):
        k_ask, k_roll = jax.random.split(key)
        pop, es = strategy.ask(k_ask, with_hyperparams(m.es, h))
        res = rollout(k_roll, pop, m.obs_stats)
        es = strategy.tell(pop, res.fitness, es)
        stats = obs_norm.merge(m.obs_stats, res.obs_stats) if obs_norm_on else m.obs_stats
        return ESMember(es, stats)

    def mean_policy_return(run):
        def score(m: ESMember, key):
            params = jax.tree.map(lambda x: x[None], strategy.mean(m.es))
            return run(key, params, m.obs_stats).fitness[0]
        return score

    return Learner(ES_HYPERPARAMS, init, step, mean_policy_return(score_rollout),
                   mean_policy_return(test_rollout), lambda m: strategy.mean(m.es))


class _MLP(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x):
        x = nn.tanh(nn.Dense(self.hidden)(x))
        return nn.Dense(1)(x)[..., 0]


def regression_data(dim: int, train_size: int, test_size: int, noise: float, data_seed: int):
    """``(x_train, y_train, x_val, y_val, x_test, y_test)`` as NumPy float32 arrays: a random
    two-layer tanh teacher with 16 units, Gaussian inputs, Gaussian noise on the targets (the
    validation and test sets each have ``test_size`` points)."""
    rng = np.random.default_rng(data_seed)
    w = rng.normal(size=(dim, 16)) / np.sqrt(dim) * 2.0
    v = rng.normal(size=(16,)) / 2.0

    def draw(n):
        x = rng.normal(size=(n, dim))
        return (x.astype(np.float32),
                (np.tanh(x @ w) @ v + noise * rng.normal(size=n)).astype(np.float32))

    return (*draw(train_size), *draw(test_size), *draw(test_size))


def regression_learner(*, dim: int = 8, hidden: int = 32, train_size: int = 256,
                       test_size: int = 256, batch_size: int = 32, updates: int = 1,
                       noise: float = 0.1, optimizer: str = "sgd", data_seed: int = 0) -> Learner:
    """A small MLP regression trained by optax (``optimizer``: ``"sgd"`` or ``"adam"``) as a PBT
    learner over ``learning_rate``. A member is ``(params, opt_state)``."""
    who = "regression_learner"
    for name, value in (("dim", dim), ("hidden", hidden), ("train_size", train_size),
                        ("test_size", test_size), ("batch_size", batch_size),
                        ("updates", updates)):
        check_int(name, value, who=who)
    check_int("data_seed", data_seed, 0, who=who)
    check_number("noise", noise, 0.0, who=who)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"{who}: optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    data = [jnp.asarray(a) for a in regression_data(dim, train_size, test_size, noise, data_seed)]
    x_train, y_train, x_val, y_val, x_test, y_test = data
    model = _MLP(hidden)
    tx = optax.inject_hyperparams(getattr(optax, optimizer))

    def loss(params, x, y):
        return jnp.mean(jnp.square(model.apply(params, x) - y))

    def init(key, h):
        params = model.init(key, x_train[:1])
        return params, tx(learning_rate=h["learning_rate"]).init(params)

    def step(member, h, key):
        def update(member, k):
            params, opt = member
            idx = jax.random.randint(k, (batch_size,), 0, train_size)
            grads = jax.grad(loss)(params, x_train[idx], y_train[idx])
            opt = opt._replace(hyperparams={**opt.hyperparams, "learning_rate": h["learning_rate"]})
            upd, opt = tx(learning_rate=h["learning_rate"]).update(grads, opt, params)
            return (optax.apply_updates(params, upd), opt), None

        member, _ = jax.lax.scan(update, member, jax.random.split(key, updates))
        return member

    def evaluate(member, key):
        del key
        return -loss(member[0], x_val, y_val)

    def test(member, key):
        del key
        return -loss(member[0], x_test, y_test)

    return Learner(("learning_rate",), init, step, evaluate, test, lambda m: m[0])


LEARNERS = {"es": es_learner, "regression": regression_learner}
