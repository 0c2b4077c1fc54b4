"""AlphaZero pieces on tic-tac-toe: networks, self-play targets, the replay window, the learner."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("pgx")

from evojax_rl.alphazero import game as game_lib  # noqa: E402
from evojax_rl.alphazero import networks, selfplay  # noqa: E402

BATCH, SIMS = 8, 8


@pytest.fixture(scope="session")
def ttt():
    return game_lib.make_game("tic_tac_toe")


@pytest.fixture(scope="session")
def mlp(ttt):
    net = networks.make_network("mlp", ttt.num_actions, hidden=(16, 16))
    params = networks.init_params(net, jax.random.key(0), ttt.observation_shape)
    return networks.apply_fn(net), params


@pytest.fixture(scope="session")
def played(ttt, mlp):
    """One gumbel self-play call and, independently, the same games replayed by calling the
    search directly: per ply the state, the search's weights, the rewards."""
    apply, params = mlp
    key = jax.random.key(7)
    samples, stats = jax.jit(selfplay.make_selfplay(
        ttt, apply, batch=BATCH, num_simulations=SIMS))(params, key)
    search = jax.jit(selfplay.make_search(ttt, apply, num_simulations=SIMS))
    step = jax.jit(lambda s, a: game_lib.step(ttt, s, a))
    init_key, _, ply_key = jax.random.split(key, 3)
    state = game_lib.init(ttt, init_key, BATCH)
    first_mover = np.asarray(state.current_player)
    weights, alive, movers, rewards = [], [], [], []
    for t in range(ttt.max_plies):
        search_key, _ = jax.random.split(jax.random.fold_in(ply_key, t))
        out = search(params, search_key, state)
        weights.append(np.asarray(out.action_weights))
        alive.append(~np.asarray(state.terminated | state.truncated))
        movers.append(np.asarray(state.current_player))
        state = step(state, out.action)
        rewards.append(np.asarray(state.rewards))
    oracle = dict(weights=np.stack(weights), alive=np.stack(alive), mover=np.stack(movers),
                  rewards=np.stack(rewards), first_mover=first_mover,
                  over=np.asarray(state.terminated))
    return samples, stats, oracle


# --- networks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", networks.KINDS)
def test_network_shapes_and_value_range(ttt, kind):
    net = networks.make_network(kind, ttt.num_actions, hidden=(8,), channels=4, blocks=1)
    params = networks.init_params(net, jax.random.key(1), ttt.observation_shape)
    obs = jax.random.bernoulli(jax.random.key(2), 0.5, (5, *ttt.observation_shape))  # bool
    apply = jax.jit(networks.apply_fn(net))
    logits, value = apply(params, obs)
    assert logits.shape == (5, ttt.num_actions) and logits.dtype == jnp.float32
    assert value.shape == (5,) and value.dtype == jnp.float32
    assert np.all(np.abs(np.asarray(value)) < 1)
    # Scaled-up parameters push the value towards +-1 but tanh keeps it strictly inside.
    big = jax.tree.map(lambda p: 100.0 * p, params)
    _, value = apply(big, obs)
    assert np.all(np.abs(np.asarray(value)) <= 1) and not np.allclose(np.asarray(value), 0)
    # Different observations, different outputs (the network reads its input).
    l2, _ = apply(params, ~obs)
    assert not np.allclose(np.asarray(logits), np.asarray(l2))


def test_network_bad_kind():
    with pytest.raises(ValueError, match=r"kind must be one of 'mlp', 'resnet', got 'cnn'\."):
        networks.make_network("cnn", 9)


def test_resnet_needs_boards():
    net = networks.make_network("resnet", 4, channels=4, blocks=1)
    with pytest.raises(ValueError, match="board observations"):
        networks.init_params(net, jax.random.key(0), (10,))


# --- self-play targets ---------------------------------------------------------------------------


def test_outcome_targets_hand_built_win(ttt):
    """First mover plays 0, 1, 2 (a row), the other 3, 4: the last mover wins; values alternate
    +1 / -1 from each position's mover's view; the padding after the end is 0 and invalid."""
    state = game_lib.init(ttt, jax.random.key(3), 1)
    step = jax.jit(lambda s, a: game_lib.step(ttt, s, a))
    rewards, movers, valid = [], [], []
    for a in [0, 3, 1, 4, 2, 5, 6, 7, 8]:  # the last four are played on a finished game
        valid.append(~np.asarray(state.terminated))
        movers.append(np.asarray(state.current_player))
        state = step(state, jnp.array([a]))
        rewards.append(np.asarray(state.rewards))
    value = selfplay.outcome_targets(jnp.asarray(np.stack(rewards)), jnp.asarray(np.stack(movers)),
                                     jnp.asarray(np.stack(valid)))
    np.testing.assert_array_equal(np.asarray(value)[:, 0], [1, -1, 1, -1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(np.stack(valid)[:, 0], [1] * 5 + [0] * 4)


def test_outcome_targets_sums_rewards_per_player():
    rewards = jnp.array([[[0.5, 0.0]], [[0.0, -1.0]], [[1.0, 0.0]]])  # [T=3, B=1, 2]
    mover = jnp.array([[0], [1], [0]])
    valid = jnp.array([[True], [True], [False]])
    value = selfplay.outcome_targets(rewards, mover, valid)
    np.testing.assert_array_equal(np.asarray(value)[:, 0], [1.5, -1.0, 0.0])


def test_selfplay_policy_is_the_search_weights(ttt, played):
    samples, _, oracle = played
    policy = np.asarray(samples.policy).reshape(ttt.max_plies, BATCH, -1)
    alive = oracle["alive"]
    np.testing.assert_allclose(policy[alive], oracle["weights"][alive], atol=1e-6, rtol=0)
    assert np.all(policy[~alive] == 0)
    # The targets are real distributions over the legal moves, not uniform ones.
    np.testing.assert_allclose(policy[alive].sum(-1), 1, atol=1e-5)
    assert np.ptp(policy[alive][0][policy[alive][0] > 0]) > 1e-3


def test_selfplay_valid_mask_and_values(ttt, played):
    samples, stats, oracle = played
    valid = np.asarray(samples.valid).reshape(ttt.max_plies, BATCH)
    assert oracle["over"].all()  # tic-tac-toe always ends within 9 plies
    lengths = oracle["alive"].sum(0)
    assert valid.sum() == lengths.sum() and np.array_equal(valid, oracle["alive"])
    assert float(stats["valid_samples"]) == lengths.sum()
    np.testing.assert_allclose(float(stats["game_length"]), lengths.mean(), rtol=1e-6)
    # Values: each mover's total reward, alternating sign between plies, +-1 / 0.
    value = np.asarray(samples.value).reshape(ttt.max_plies, BATCH)
    totals = oracle["rewards"].sum(0)  # [B, 2]
    expected = np.take_along_axis(totals[None], oracle["mover"][..., None], 2)[..., 0] * valid
    np.testing.assert_array_equal(value, expected)
    for b in range(BATCH):
        v = value[: lengths[b], b]
        assert np.all(v[1:] == -v[:-1]) and v[-1] in (0.0, 1.0)  # the last mover wins or draws
    first = np.take_along_axis(totals, oracle["first_mover"][:, None], 1)[:, 0]
    assert np.array_equal(value[0], first)
    np.testing.assert_allclose(float(stats["first_mover_win"]), np.mean(first > 0))
    np.testing.assert_allclose(float(stats["draw"]), np.mean(first == 0))
    assert float(stats["unfinished"]) == 0.0
    obs = np.asarray(samples.observation).reshape(ttt.max_plies, BATCH, -1)
    assert samples.observation.dtype == jnp.float32 and np.all(obs[~valid] == 0)


def test_selfplay_bad_arguments(ttt):
    apply = game_lib.uniform_apply(ttt)
    with pytest.raises(ValueError, match="search must be one of 'gumbel', 'puct', got 'mcts'"):
        selfplay.make_selfplay(ttt, apply, batch=2, num_simulations=4, search="mcts")
    with pytest.raises(ValueError, match="batch must be an int >= 1, got 0"):
        selfplay.make_selfplay(ttt, apply, batch=0, num_simulations=4)
    with pytest.raises(ValueError, match="opening_plies must be an int >= 0, got -1"):
        selfplay.make_selfplay(ttt, apply, batch=2, num_simulations=4, opening_plies=-1)


# --- the replay window ---------------------------------------------------------------------------


def _iteration(i, n=3):
    """``n`` samples of iteration ``i``, told apart by ``value = 10 i + j``."""
    value = 10.0 * i + jnp.arange(n, dtype=jnp.float32)
    return selfplay.Sample(observation=jnp.stack([value, -value], 1),
                           policy=jnp.tile(value[:, None], (1, 4)), value=value,
                           valid=jnp.arange(n) != 1)


def test_replay_keeps_the_last_window_in_order():
    from evojax_rl.alphazero import replay as replay_lib

    replay = replay_lib.make_replay(window=2, per_iteration=3, batch_size=6)
    add = jax.jit(replay.add)
    many = jax.jit(jax.vmap(replay.sample, in_axes=(None, 0)))  # 20 draws of 6, flattened
    sample = lambda state, key: jax.tree.map(  # noqa: E731
        lambda x: x.reshape((-1, *x.shape[2:])), many(state, jax.random.split(key, 20)))
    state = replay.init(jax.tree.map(lambda x: x[0], _iteration(0)))
    # Nothing valid stored yet: the draw is of the (invalid) storage, which the loss ignores.
    assert not np.asarray(sample(state, jax.random.key(5)).valid).any()
    state = add(state, _iteration(1))
    np.testing.assert_array_equal(replay.contents(state).value, [10, 11, 12])
    # Before the ring is full, sampling draws only the written valid positions (never the zero
    # storage, never the padding 11).
    drawn = sample(state, jax.random.key(0))
    assert drawn.value.shape == (120,) and set(np.asarray(drawn.value)) == {10.0, 12.0}
    for i in (2, 3):
        state = add(state, _iteration(i))
    stored = replay.contents(state)
    np.testing.assert_array_equal(stored.value, [20, 21, 22, 30, 31, 32])
    np.testing.assert_array_equal(stored.observation[:, 1], -stored.value)
    np.testing.assert_array_equal(stored.valid, [True, False, True] * 2)
    assert int(replay.size(state)) == 6
    drawn = sample(state, jax.random.key(1))
    assert set(np.asarray(drawn.value)) == {20.0, 22.0, 30.0, 32.0}  # every valid one, no padding
    # Each drawn position comes whole: its fields belong together.
    np.testing.assert_array_equal(np.asarray(drawn.policy)[:, 0], np.asarray(drawn.value))
    np.testing.assert_array_equal(np.asarray(drawn.observation)[:, 1], -np.asarray(drawn.value))
    assert np.asarray(drawn.valid).all()
    with pytest.raises(ValueError, match="add takes per_iteration=3 samples, got 2"):
        replay.add(state, jax.tree.map(lambda x: x[:2], _iteration(4)))
    with pytest.raises(ValueError, match="batch_size must be an int from 1 to 6, got 7"):
        replay_lib.make_replay(window=2, per_iteration=3, batch_size=7)


# --- the learner ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def learner_setup(ttt, mlp, played):
    import optax

    from evojax_rl.alphazero import learn
    from evojax_rl.alphazero import replay as replay_lib

    apply, params = mlp
    samples = played[0]
    replay = replay_lib.make_replay(window=1, per_iteration=samples.value.shape[0], batch_size=32)
    state = replay.add(replay.init(jax.tree.map(lambda x: x[0], samples)), samples)
    optimizer = optax.adam(1e-2)
    return learn.make_learner(apply, optimizer, replay), optimizer, params, state, samples


def test_learner_loss_decreases(learner_setup):
    learner, optimizer, params, state, samples = learner_setup
    loss = jax.jit(learner.loss)
    before, _ = loss(params, samples)
    trained, _, metrics = learner.train(params, optimizer.init(params), state,
                                        jax.random.key(0), 40)
    after, parts = loss(trained, samples)
    assert float(after) < 0.8 * float(before)
    assert set(metrics) >= {"loss", "policy_loss", "value_loss"}
    assert np.isfinite(float(metrics["loss"])) and float(parts["value_loss"]) >= 0


def test_learner_ignores_invalid_positions(learner_setup):
    learner, _, params, _, samples = learner_setup
    invalid = ~np.asarray(samples.valid)
    assert invalid.any() and (~invalid).any()
    garbage = selfplay.Sample(
        observation=jnp.where(invalid[:, None, None, None], jnp.nan, samples.observation),
        policy=jnp.where(invalid[:, None], 7.0, samples.policy),
        value=jnp.where(invalid, -5.0, samples.value), valid=samples.valid)
    grad = jax.jit(jax.value_and_grad(learner.loss, has_aux=True))
    (clean, _), g_clean = grad(params, samples)
    (dirty, _), g_dirty = grad(params, garbage)
    assert float(clean) == float(dirty)
    jax.tree.map(np.testing.assert_array_equal, g_clean, g_dirty)
    # The same as the loss on the valid positions alone.
    only = jax.tree.map(lambda x: x[~invalid], samples)
    # Two float32 sums over different numbers of terms: their rounding may differ by up to
    # about one eps per term summed (so the bound holds on any CPU, whatever XLA's order).
    n = int(samples.valid.shape[0])
    np.testing.assert_allclose(float(jax.jit(learner.loss)(params, only)[0]), float(clean),
                               rtol=n * float(np.finfo(np.float32).eps))
    # Marking a valid position invalid does change it (the mask is read).
    fewer = samples._replace(valid=samples.valid & (jnp.arange(invalid.size) != np.argmin(invalid)))
    assert float(jax.jit(learner.loss)(params, fewer)[0]) != float(clean)
