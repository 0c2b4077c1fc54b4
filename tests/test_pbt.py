"""PBT (evojax_rl.pbt): exploit copies whole states from the top into the bottom, explore stays
within its rules, the lineage record is right, PBT beats fixed hyperparameters on a toy problem,
the members split over devices give the one-device result, bit for bit.

One toy configuration serves every test (8 members, a round every 2 steps, 2 copies per round),
so the few programs it needs are compiled once (the session's compilation cache serves the
repeats)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tree_bytes import leaves_bytes as leaves

from evojax_rl.pbt import exploit, explore, lineage, population, priors

LR = {"learning_rate": ["log_uniform", 1e-4, 1.0]}
SCALE = np.array([1.0, 100.0], np.float32)


def toy_learner():
    """Gradient descent on ``f(x) = (x0^2 + 100 x1^2) / 2`` from ``x = (2, 2)`` with step size
    ``learning_rate`` (stable below 0.02, diverging above). The score is ``-f(x) + bonus``
    (``bonus`` 0 unless a test sets it); ``origin`` is the member a state started as (set by
    the tests); ``draw`` is a number drawn with the step's key (so a comparison of states also
    compares the keys each member got)."""

    def init(key, h):
        return {"x": jnp.full((2,), 2.0), "origin": jnp.zeros((), jnp.int32),
                "bonus": jnp.zeros((), jnp.float32), "draw": jax.random.uniform(key)}

    def step(m, h, key):
        return {**m, "x": m["x"] - h["learning_rate"] * (m["x"] * jnp.asarray(SCALE)),
                "draw": jax.random.uniform(key)}

    def evaluate(m, key):
        return -0.5 * jnp.sum(SCALE * m["x"] ** 2) + m["bonus"]

    return population.Learner(("learning_rate",), init, step, evaluate)


def toy(devices=1, exploit_on=True):
    return population.pbt(toy_learner(), LR, members=8, ready=2, rounds=4, truncation=0.25,
                          devices=devices, exploit=exploit_on)


def start(p, seed):
    """The initial state (placed as ``p.shardings`` says), each member's ``origin`` its index."""
    key = jax.random.key(seed)
    state = jax.jit(p.init, out_shardings=p.shardings(jax.eval_shape(p.init, key)))(key)
    return state._replace(learner={**state.learner, "origin": jnp.arange(8, dtype=jnp.int32)})


def run(p, state, steps, last=False):
    """``steps`` steps one at a time (one compiled program per configuration): the states
    after each step and the metrics (on the host), and with ``last`` the last state as it is
    on the devices."""
    step = jax.jit(p.step, out_shardings=(p.shardings(state), None))
    states, metrics = [], []
    for _ in range(steps):
        state, m = step(state)
        states.append(jax.device_get(state))
        metrics.append(jax.device_get(m))
    return (states, metrics, state) if last else (states, metrics)


def stepped(x, lr):
    """The toy's step on the host (float32): ``[N, 2]`` states, ``[N]`` step sizes."""
    return (x - lr[:, None] * (x * SCALE)).astype(np.float32)


def test_truncation_ranks_nan_worst_and_copies_from_the_top():
    scores = jnp.array([5.0, jnp.nan, 3.0, -jnp.inf, 9.0, 1.0, 7.0, 2.0, 8.0, 4.0])
    for seed in range(5):
        parents = np.asarray(exploit.truncation(jax.random.key(seed), scores, 2))
        # The two worst (NaN and -inf) copy from the two best (9 at 4, 8 at 8); the rest keep.
        assert set(parents[[1, 3]]) <= {4, 8}
        keep = [i for i in range(10) if i not in (1, 3)]
        assert (parents[keep] == keep).all()
    assert exploit.truncation_size(10, 0.2) == 2 and exploit.truncation_size(5, 0.2) == 1


def test_exploit_copies_whole_states_and_hyperparameters_from_the_top_into_the_bottom():
    p = toy()
    state = jax.tree.map(jnp.asarray, run(p, start(p, 0), 1)[0][0])  # after step 1
    # Hand-built scores: the bonus dwarfs -f(x). Best: 1 and 5; worst: 2 and 4.
    bonus = jnp.array([3.0, 9.0, 0.0, 5.0, 1.0, 8.0, 4.0, 2.0]) * 1e12  # |f| < 1e11 here
    state = state._replace(learner={**state.learner, "bonus": bonus})
    before = jax.device_get(state)
    after, metrics = run(p, state, 1)  # step 2: a round
    after, metrics = after[0], metrics[0]
    assert int(metrics["copies"]) == 2
    moved = stepped(before.learner["x"], before.hyperparams["learning_rate"])
    prior = p.priors["learning_rate"]
    lo, hi = np.float32(prior.low), np.float32(prior.high)
    perturbed = 0
    for member in range(8):
        src = int(after.learner["origin"][member])
        lr = after.hyperparams["learning_rate"][member]
        if member in (2, 4):
            assert src in (1, 5)
            # The parent's whole state, bit for bit (the parent, at the top, kept its own).
            assert leaves(jax.tree.map(lambda x: x[member], after.learner)) == \
                leaves(jax.tree.map(lambda x: x[src], after.learner))
            assert after.lineage.parent[0][member] == src
            assert after.score[member] == after.lineage.score[0][src]  # the parent's score
            # Explore: the parent's value x0.8 or x1.2 clipped, or a fresh draw, in the prior.
            assert lo <= lr <= hi
            parent_lr = before.hyperparams["learning_rate"][src]
            perturbed += lr in [np.clip(parent_lr * np.float32(f), lo, hi) for f in (0.8, 1.2)]
        else:
            assert src == member
            np.testing.assert_allclose(after.learner["x"][member], moved[member], rtol=1e-6)
            assert lr == before.hyperparams["learning_rate"][member]
            assert after.score[member] == after.lineage.score[0][member]
    assert perturbed >= 1  # with this seed; the other copy may have been resampled
    # The copies really were replaced: their own step would have gone elsewhere.
    assert not np.allclose(after.learner["x"][2], moved[2], rtol=1e-3)
    assert after.lineage.step[0] == 2 and after.lineage.rounds == 1


def test_explore_perturbs_by_the_factors_or_resamples_within_the_prior():
    prior = priors.log_uniform(1e-3, 1.0)
    h = jnp.array([1e-3, 0.01, 0.5, 0.9, 1.0] * 400, jnp.float32)  # includes both bounds
    keys = jax.random.split(jax.random.key(1), h.shape[0])
    draw = jax.jit(jax.vmap(lambda k, x, p: explore.explore(k, {"lr": x}, {"lr": prior}, p)["lr"],
                            in_axes=(0, 0, None)))

    def run_explore(p_resample):  # one compiled program for the three probabilities
        return np.asarray(draw(keys, h, jnp.float32(p_resample)))

    h_np = np.asarray(h)
    lo, hi = np.float32(1e-3), np.float32(1.0)
    perturbed = run_explore(0.0)
    allowed = [np.clip(h_np * np.float32(f), lo, hi) for f in (0.8, 1.2)]
    assert np.all((perturbed == allowed[0]) | (perturbed == allowed[1]))
    up = perturbed == allowed[1]
    assert 0.4 < up[h_np == np.float32(0.01)].mean() < 0.6  # both factors, with equal chance
    resampled = run_explore(1.0)
    assert np.all((resampled >= lo) & (resampled <= hi))
    assert np.mean(resampled < 0.0316) == pytest.approx(0.5, abs=0.05)  # log-uniform: median 10^-1.5
    mixed = run_explore(0.25)
    assert np.all((mixed >= lo) & (mixed <= hi))
    fresh = ~((mixed == allowed[0]) | (mixed == allowed[1]))
    assert 0.18 < fresh.mean() < 0.3
    u = np.asarray(priors.sample(priors.uniform(-1.0, 2.0), jax.random.key(2), (4000,)))
    assert u.min() >= -1.0 and u.max() <= 2.0 and abs(u.mean() - 0.5) < 0.05


def test_the_lineage_records_who_copied_whom_when_and_with_what():
    p = toy()
    state0 = jax.device_get(start(p, 3))
    states, metrics = run(p, start(p, 3), 10)
    assert [int(m["copies"]) for m in metrics] == [0, 2] * 5
    lin = states[-1].lineage
    assert int(lin.rounds) == 5 and lin.step.tolist() == [2, 4, 6, 8]  # the 5th is not kept
    np.testing.assert_array_equal(lin.initial["learning_rate"], state0.hyperparams["learning_rate"])
    origin = np.arange(8)
    for r in range(4):
        pre, post = states[2 * r], states[2 * r + 1]  # after steps 2r+1 and 2r+2
        # The recorded scores are the members' scores after the round's step, before exploit.
        x = stepped(pre.learner["x"], pre.hyperparams["learning_rate"])
        np.testing.assert_allclose(lin.score[r], -0.5 * np.sum(SCALE * x ** 2, axis=1), rtol=1e-5)
        # The recorded parents and hyperparameters are the state's after the round.
        np.testing.assert_array_equal(lin.hyperparams["learning_rate"][r],
                                      post.hyperparams["learning_rate"])
        origin = origin[lin.parent[r]]
        assert origin.tolist() == post.learner["origin"].tolist()  # replaying gives the origins
        same = lin.parent[r] == np.arange(8)
        assert same.sum() == 6
        np.testing.assert_array_equal(post.hyperparams["learning_rate"][same],
                                      pre.hyperparams["learning_rate"][same])
    record = lineage.to_json(lin)
    assert record["rounds"] == 5 and record["rounds_kept"] == 4 and len(record["copies"]) == 8
    for c in record["copies"]:
        r = [2, 4, 6, 8].index(c["step"])
        assert lin.parent[r][c["member"]] == c["parent"] != c["member"]
        assert c["hyperparams"]["learning_rate"] == float(lin.hyperparams["learning_rate"][r][c["member"]])


def test_pbt_beats_fixed_hyperparameters_drawn_from_the_same_prior():
    # Step sizes from 1e-4 to 1: above 0.02 the steep axis diverges (NaN ranks worst), far
    # below it the shallow axis barely moves. Same members, same draws, same steps.
    finals = {}
    for on in (True, False):
        p = toy(exploit_on=on)
        states, metrics = run(p, start(p, 0), 20)
        final = states[-1]
        score = -0.5 * np.sum(SCALE * final.learner["x"].astype(np.float64) ** 2, axis=1)
        finals[on] = (np.where(np.isfinite(score), score, -np.inf), int(p.best(final)),
                      sum(int(m["copies"]) for m in metrics))
    (pbt_scores, best, copies), (fixed_scores, _, no_copies) = finals[True], finals[False]
    assert copies == 20 and no_copies == 0
    assert pbt_scores[best] > np.median(fixed_scores) + 1.0


def test_members_split_over_devices_give_the_one_device_result():
    assert jax.device_count() == 4  # conftest
    one = run(toy(devices=1), start(toy(devices=1), 1), 4)
    p4 = toy(devices=4)
    *four, last = run(p4, start(p4, 1), 4, last=True)
    # Really split: each device holds 2 of the 8 members; the rest is held whole by each.
    for leaf in jax.tree_util.tree_leaves(last.learner):
        assert [s.data.shape[0] for s in leaf.addressable_shards] == [2, 2, 2, 2]
        assert len({s.device for s in leaf.addressable_shards}) == 4
    assert last.score.sharding.is_fully_replicated
    assert sum(int(m["copies"]) for m in four[1]) == 4
    # Bit for bit: exploit, explore, keys and the lineage do not depend on the split, and this
    # learner's arithmetic is elementwise.
    assert leaves(four) == leaves(one)
