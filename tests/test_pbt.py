"""PBT (evojax_rl.pbt): exploit copies whole states from the top into the bottom, explore stays
within its rules, the lineage record is right, PBT beats fixed hyperparameters on a toy problem,
the members split over devices give the one-device result, bad settings give one sentence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl.pbt import exploit, explore, lineage, population, priors

LR = {"learning_rate": ["log_uniform", 1e-4, 1.0]}


def toy_learner(score_field=False):
    """Gradient descent on ``f(x) = (x0^2 + 100 x1^2) / 2`` from ``x = (2, 2)`` with step size
    ``learning_rate`` (stable below 0.02, diverging above). A member also carries ``origin`` (the member it
    started as, set by the test) and ``score`` (hand-set, when ``score_field``)."""

    def init(key, h):
        return {"x": jnp.full((2,), 2.0), "origin": jnp.zeros((), jnp.int32),
                "score": jnp.zeros((), jnp.float32)}

    def step(m, h, key):
        grad = m["x"] * jnp.array([1.0, 100.0])
        return {**m, "x": m["x"] - h["learning_rate"] * grad}

    def evaluate(m, key):
        if score_field:
            return m["score"]
        return -0.5 * (m["x"][0] ** 2 + 100 * m["x"][1] ** 2)

    return population.Learner(("learning_rate",), init, step, evaluate)


def leaves(tree):
    out = []
    for leaf in jax.tree_util.tree_leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        a = np.asarray(leaf)
        out.append((a.dtype.str, a.shape, a.tobytes()))
    return out


def with_origins(p, state):
    return state._replace(learner={**state.learner,
                                   "origin": jnp.arange(p.members, dtype=jnp.int32)})


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
    p = population.pbt(toy_learner(score_field=True), LR, members=10, ready=1, rounds=4,
                       resample_probability=0.0)
    state = with_origins(p, jax.jit(p.init)(jax.random.key(0)))
    scores = jnp.array([3.0, 9.0, 0.0, 5.0, 1.0, 8.0, 4.0, 2.0, 6.0, 7.0])  # best 1, 5; worst 2, 4
    state = state._replace(learner={**state.learner, "score": scores})
    before = jax.device_get(state)
    after, metrics = jax.jit(p.step)(state)
    after = jax.device_get(after)
    assert int(metrics["copies"]) == 2
    # The step moved every x (the keys do not matter to this learner).
    stepped = jax.device_get(jax.vmap(p.learner.step)(
        state.learner, state.hyperparams, jax.random.split(jax.random.key(0), 10)))
    lr_before = before.hyperparams["learning_rate"]
    lr_after = after.hyperparams["learning_rate"]
    for member in range(10):
        src = int(after.learner["origin"][member])
        if member in (2, 4):
            assert src in (1, 5)
            # The parent's whole state, bit for bit (the parent, at the top, kept its own).
            assert leaves(jax.tree.map(lambda x: x[member], after.learner)) == \
                leaves(jax.tree.map(lambda x: x[src], after.learner))
            np.testing.assert_allclose(after.learner["x"][member], stepped["x"][src], rtol=1e-6)
            # Explore: the parent's value times 0.8 or 1.2 (no resampling here), within the prior.
            ratio = lr_after[member] / lr_before[src]
            assert np.isclose(ratio, 0.8, rtol=1e-6) or np.isclose(ratio, 1.2, rtol=1e-6) or \
                lr_after[member] in (np.float32(1e-4), np.float32(1.0))
            assert float(after.score[member]) == float(scores[src])  # the parent's score
        else:
            assert src == member
            np.testing.assert_allclose(after.learner["x"][member], stepped["x"][member], rtol=1e-6)
            assert lr_after[member] == lr_before[member]
    # The copy's state differs from its own stepped state (it really was replaced).
    assert not np.allclose(after.learner["x"][2], stepped["x"][2], rtol=1e-3)
    assert after.lineage.parent[0].tolist() == after.learner["origin"].tolist()


def test_explore_perturbs_by_the_factors_or_resamples_within_the_prior():
    prior = priors.log_uniform(1e-3, 1.0)
    h = jnp.array([1e-3, 0.01, 0.5, 0.9, 1.0] * 400, jnp.float32)  # includes both bounds
    keys = jax.random.split(jax.random.key(1), h.shape[0])

    draw = jax.jit(jax.vmap(lambda k, x, p: explore.explore(k, {"lr": x}, {"lr": prior}, p)["lr"],
                            in_axes=(0, 0, None)))

    def run(p_resample):  # one compiled program for the three probabilities
        return np.asarray(draw(keys, h, jnp.float32(p_resample)))

    h_np = np.asarray(h)
    lo, hi = np.float32(1e-3), np.float32(1.0)
    perturbed = run(0.0)
    allowed = [np.clip(h_np * np.float32(f), lo, hi) for f in (0.8, 1.2)]
    assert np.all((perturbed == allowed[0]) | (perturbed == allowed[1]))
    up = perturbed == allowed[1]
    assert 0.4 < up[h_np == np.float32(0.01)].mean() < 0.6  # both factors, with equal chance
    resampled = run(1.0)
    assert np.all((resampled >= lo) & (resampled <= hi))
    assert np.mean(resampled < 0.0316) == pytest.approx(0.5, abs=0.05)  # log-uniform: median 10^-1.5
    mixed = run(0.25)
    assert np.all((mixed >= lo) & (mixed <= hi))
    fresh = ~((mixed == allowed[0]) | (mixed == allowed[1]))
    assert 0.18 < fresh.mean() < 0.3
    u = np.asarray(priors.sample(priors.uniform(-1.0, 2.0), jax.random.key(2), (4000,)))
    assert u.min() >= -1.0 and u.max() <= 2.0 and abs(u.mean() - 0.5) < 0.05


def test_the_lineage_records_who_copied_whom_when_and_with_what():
    p = population.pbt(toy_learner(), LR, members=8, ready=3, rounds=4, truncation=0.25)
    state = with_origins(p, jax.jit(p.init)(jax.random.key(3)))
    initial = np.asarray(state.hyperparams["learning_rate"])
    step = jax.jit(p.step)
    member_step, member_eval = jax.jit(jax.vmap(p.learner.step)), jax.jit(jax.vmap(p.learner.evaluate))
    expected_scores, copies, kept = [], [], None
    for t in range(1, 16):
        if t % 3 == 0:  # a round: the members' scores after this step, before exploit
            _, k_step, k_eval = jax.random.split(state.key, 5)[:3]
            moved = member_step(state.learner, state.hyperparams, jax.random.split(k_step, 8))
            expected_scores.append(np.asarray(member_eval(moved, jax.random.split(k_eval, 8))))
        state, metrics = step(state)
        copies.append(int(metrics["copies"]))
        if t == 12:
            kept = jax.device_get(state)
    lin = jax.device_get(state.lineage)
    assert int(lin.rounds) == 5 and lin.step.tolist() == [3, 6, 9, 12]  # the 5th is not kept
    assert copies == [0, 0, 2] * 5
    # Replaying the recorded parents from step 0 gives every member's origin; the recorded
    # hyperparameters are the state's after each round; the scores are those before exploit.
    origin = np.arange(8)
    for r in range(4):
        origin = origin[lin.parent[r]]
        np.testing.assert_array_equal(lin.score[r], expected_scores[r])
    assert origin.tolist() == kept.learner["origin"].tolist()
    np.testing.assert_array_equal(lin.hyperparams["learning_rate"][3],
                                  kept.hyperparams["learning_rate"])
    np.testing.assert_array_equal(lin.initial["learning_rate"], initial)
    record = lineage.to_json(lin)
    assert record["rounds"] == 5 and record["rounds_kept"] == 4 and len(record["copies"]) == 8
    for c in record["copies"]:
        r = [3, 6, 9, 12].index(c["step"])
        assert lin.parent[r][c["member"]] == c["parent"] != c["member"]
        assert c["hyperparams"]["learning_rate"] == float(lin.hyperparams["learning_rate"][r][c["member"]])
    # A member that did not copy keeps its hyperparameters through a round.
    for r in range(1, 4):
        same = lin.parent[r] == np.arange(8)
        np.testing.assert_array_equal(lin.hyperparams["learning_rate"][r][same],
                                      lin.hyperparams["learning_rate"][r - 1][same])


def run_steps(p, seed, steps):
    key = jax.random.key(seed)
    where = p.shardings(jax.eval_shape(p.init, key))
    state = jax.jit(p.init, out_shardings=where)(key)
    return jax.jit(lambda s: jax.lax.scan(lambda s, _: p.step(s), s, None, length=steps),
                   out_shardings=(where, None))(state)


def test_pbt_beats_fixed_hyperparameters_drawn_from_the_same_prior():
    # Step sizes from 1e-4 to 1: above 0.02 the steep axis diverges (NaN ranks worst), far
    # below it the shallow axis barely moves. Same members, same draws, same steps.
    kw = dict(members=10, ready=4, rounds=10, truncation=0.2)
    finals = {}
    for on in (True, False):
        p = population.pbt(toy_learner(), LR, exploit=on, **kw)
        state, metrics = run_steps(p, 0, 40)
        scores = np.asarray(jax.vmap(p.learner.evaluate)(state.learner, jax.random.split(
            jax.random.key(9), 10)))
        finals[on] = (np.where(np.isfinite(scores), scores, -np.inf), int(p.best(state)),
                      int(np.sum(metrics["copies"])))
    pbt_scores, best, copies = finals[True]
    fixed_scores, _, no_copies = finals[False]
    assert copies == 20 and no_copies == 0
    assert pbt_scores[best] > np.median(fixed_scores) + 1.0


def test_members_split_over_devices_give_the_one_device_result():
    assert jax.device_count() == 4  # conftest
    runs = {}
    for devices in (1, 4):
        p = population.pbt(toy_learner(), LR, members=8, ready=2, rounds=3, truncation=0.25,
                           devices=devices)
        runs[devices] = run_steps(p, 1, 6)
    (one, m1), (four, m4) = runs[1], runs[4]
    # Really split: each device holds 2 of the 8 members; the rest is held whole by each.
    for leaf in jax.tree_util.tree_leaves(four.learner):
        assert [s.data.shape[0] for s in leaf.addressable_shards] == [2, 2, 2, 2]
        assert len({s.device for s in leaf.addressable_shards}) == 4
    assert four.score.sharding.is_fully_replicated
    assert int(np.sum(m4["copies"])) == 6
    # Bit for bit: exploit, explore, keys and the lineage do not depend on the split, and this
    # learner's arithmetic is elementwise.
    assert leaves(four) == leaves(one)
    assert leaves(m4) == leaves(m1)
