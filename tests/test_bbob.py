"""problems.bbob against COCO's own implementation (cocoex, the `peers` extra).

For every function 1..24, instances 1-5 and D in {2, 5, 10, 20} (480 problems), our value equals
cocoex's at random points in [-5, 5]^D, at and near x_opt, and outside the box (where the
penalties act), in float64; x_opt and f_opt equal COCO's. Each dimension is one jitted, vmapped
``evaluate`` over the stacked instances of all 24 functions (one compile per dimension).

Float64 inside this module only: ``jax.enable_x64(True)`` is a context manager in JAX 0.10
(docs.jax.dev, jax.enable_x64: "Context manager for jax_enable_x64 config option"); the tests
check that the setting does not outlive it.

Tolerance (float64, unit roundoff u = 1.1e-16): |ours - COCO| <= rtol * max(1, |f|, |f_opt|).
Our rotations are orthonormalized and multiplied in another order than COCO's, XLA sums in
another order than C loops, and f_opt is added last (so its rounding is relative to |f_opt|):
the search-space points differ by a few u. The smooth functions turn that into at most ~1e4 u
(the 1e6 conditioning of f10-f12 included; measured <= 4e-13): rtol 1e-11. Five functions
multiply z's rounding by a large frequency, so they get rtol 1e-9 (measured <= 5e-11):
Weierstrass (f16) takes cos(2 pi 3^11 z), a factor 1.1e6; Schaffers F7 (f17, f18) sin(50 s^0.1),
whose slope grows without bound as s -> 0; Griewank-Rosenbrock (f19) cos(s) with s up to ~1e7
near the box's corners; Katsuura (f23) |2^j z - round(2^j z)| up to j = 32 in a product of D
powers.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import problems
from evojax_rl.problems import bbob

cocoex = pytest.importorskip(
    "cocoex", reason="cocoex (coco-experiment, in the peers extra) is problems.bbob's reference")
cocoex.log_level("warning")

DIMS = (2, 5, 10, 20)
HIGH_FREQUENCY = (16, 17, 18, 19, 23)
RTOL = {fid: 1e-9 if fid in HIGH_FREQUENCY else 1e-11 for fid in bbob.FUNCTION_IDS}
# float32 (u = 6e-8, 5e8 times float64's), data and arithmetic rounded: measured <= 1e-4
# (smooth) and <= 2e-3 (the five above) over 24000 random points per dimension.
RTOL_F32 = {fid: 2e-2 if fid in HIGH_FREQUENCY else 1e-3 for fid in bbob.FUNCTION_IDS}


def _evaluate_batch():
    """``(instances [B], points [B, P, D]) -> [B, P]``."""
    return jax.jit(jax.vmap(jax.vmap(bbob.evaluate, in_axes=(None, 0)), in_axes=(0, 0)))


def _suite(dims: str, instances: str):
    suite = cocoex.Suite("bbob", f"instances: {instances}", f"dimensions: {dims}")
    # get_problem keeps each problem alive; iterating the suite frees the previous one.
    return [suite.get_problem(k) for k in range(len(suite))]


def _points(rng, x_opt: np.ndarray) -> np.ndarray:
    """``[B, 12, D]``: x_opt, two points near it, six uniform in [-5, 5]^D, three with one
    coordinate outside the box (by up to 3)."""
    b, d = x_opt.shape
    near = x_opt[:, None] + np.array([1e-6, 1e-2])[:, None] * rng.standard_normal((b, 2, d))
    uniform = rng.uniform(-5, 5, (b, 6, d))
    outside = rng.uniform(-5, 5, (b, 3, d))
    coord = rng.integers(0, d, (b, 3))
    sign = rng.choice([-1.0, 1.0], (b, 3))
    np.put_along_axis(outside, coord[..., None], (sign * rng.uniform(5.05, 8, (b, 3)))[..., None],
                      axis=-1)
    return np.concatenate([x_opt[:, None], np.clip(near, -5, 5), uniform, outside], axis=1)


def _compare(ours: np.ndarray, ref: np.ndarray, batch: bbob.Instance, problems_, rtol) -> list:
    """Lines naming each problem and point where ``ours`` and ``ref`` differ beyond ``rtol``."""
    scale = np.maximum(1.0, np.maximum(np.abs(ref), np.abs(batch.f_opt)[:, None]))
    err = np.abs(ours - ref) / scale
    bad = []
    for k, problem in enumerate(problems_):
        fid = int(batch.fid[k])
        for j in np.flatnonzero(~(err[k] <= rtol[fid])):
            bad.append(f"{problem.id} ({bbob.NAMES[fid]}) point {j}: ours {ours[k, j]!r}, "
                       f"cocoex {ref[k, j]!r}, relative error {err[k, j]:.1e}")
    return bad


def _float64_run(dim: int, instances: str = "1-5", seed: int = 0):
    problems_ = _suite(str(dim), instances)
    batch = bbob.stack([bbob.instance(p.id_function, dim, p.id_instance) for p in problems_])
    x = _points(np.random.default_rng(seed + dim), batch.x_opt)
    ref = np.array([[p(xi) for xi in xs] for p, xs in zip(problems_, x)])
    x64_before = jax.config.jax_enable_x64
    with jax.enable_x64(True):
        ours = _evaluate_batch()(batch, x)
        assert ours.dtype == jnp.float64
    assert jax.config.jax_enable_x64 == x64_before, "enable_x64 leaked out of its context"
    return problems_, batch, x, np.asarray(ours), ref


@pytest.mark.parametrize("dim", DIMS)
def test_values_match_cocoex(dim):
    problems_, batch, _, ours, ref = _float64_run(dim)
    assert len(problems_) == 24 * 5 and sorted(set(batch.fid.tolist())) == list(range(1, 25))
    bad = _compare(ours, ref, batch, problems_, RTOL)
    assert not bad, f"{len(bad)} values differ from cocoex:\n" + "\n".join(bad[:20])
    # f(x_opt) = f_opt: point 0 is x_opt (f5's is a corner of the box, f20's COCO's reported
    # 4.2096874633 / 2, 4e-10 from its transform's centre: f - f_opt ~ 1e-15 there).
    gap = np.abs(ours[:, 0] - batch.f_opt) / np.maximum(1.0, np.abs(batch.f_opt))
    assert np.all(gap <= 1e-13), [(p.id, g) for p, g in zip(problems_, gap) if g > 1e-13]


@pytest.mark.parametrize("dim", DIMS)
def test_x_opt_and_f_opt_match_cocoex(dim, tmp_path, monkeypatch):
    """cocoex 2.8 exposes a problem's optimum only through ``_best_parameter('print')``, which
    writes ``._bbob_problem_best_parameter.txt`` in the working directory."""
    monkeypatch.chdir(tmp_path)
    for problem in _suite(str(dim), "1-5"):
        ours = bbob.instance(problem.id_function, dim, problem.id_instance)
        if not hasattr(problem, "_best_parameter"):
            pytest.skip("this cocoex does not expose the optimum (_best_parameter)")
        problem._best_parameter("print")
        x_opt = np.atleast_1d(np.loadtxt(tmp_path / "._bbob_problem_best_parameter.txt"))
        os.remove(tmp_path / "._bbob_problem_best_parameter.txt")
        # f9 and f19 have no shift: COCO solves its affine map for x_opt as we do, in another
        # order (measured <= 1.2e-13); all others are the same float64 numbers.
        np.testing.assert_allclose(ours.x_opt, x_opt, rtol=0, atol=1e-12, err_msg=problem.id)
        # COCO's value at its own optimum is our f_opt (f_opt is a multiple of 0.01).
        assert abs(problem(x_opt) - ours.f_opt) <= 1e-12 * max(1.0, abs(ours.f_opt)), problem.id


def test_other_dimensions_and_later_instances():
    """COCO's suite dimension 3 and the largest one it defines, 40 (its generator would take
    up to 44, beyond its suite), with an instance of a later year's set (101: 2023)."""
    for dim in (3, 40):
        problems_, batch, _, ours, ref = _float64_run(dim, instances="2,101", seed=1)
        bad = _compare(ours, ref, batch, problems_, RTOL)
        assert not bad, f"{len(bad)} values differ from cocoex:\n" + "\n".join(bad[:20])


def test_float32_smoke():
    """Under the tests' default float32, values are float32 and near cocoex's (RTOL_F32)."""
    if jax.config.jax_enable_x64:
        pytest.skip("JAX_ENABLE_X64 is set: float32 is not the default here")
    dim = 5
    problems_ = _suite(str(dim), "1-2")
    batch = bbob.stack([bbob.instance(p.id_function, dim, p.id_instance) for p in problems_])
    x = np.random.default_rng(3).uniform(-5, 5, (len(problems_), 8, dim))
    ours = _evaluate_batch()(batch, x.astype(np.float32))
    assert ours.dtype == jnp.float32
    ref = np.array([[p(xi) for xi in xs] for p, xs in zip(problems_, x)])
    bad = _compare(np.asarray(ours, np.float64), ref, batch, problems_, RTOL_F32)
    assert not bad, f"{len(bad)} float32 values too far from cocoex:\n" + "\n".join(bad[:20])


def test_function_is_evaluate_of_its_instance():
    """``function`` computes only its own branch, jitted or not; ``stack``s of numpy and of
    JAX arrays agree."""
    x = jnp.linspace(-4.0, 4.5, 5)
    fids = (7, 22)  # f22 shares f21's branch with 21 of its 101 peaks
    batch = bbob.stack([bbob.instance(fid, 5, 3) for fid in fids])
    want = jax.jit(jax.vmap(bbob.evaluate, in_axes=(0, None)))(batch, x)
    for fid, value in zip(fids, want):
        f = bbob.function(fid, 5, 3)
        np.testing.assert_allclose(float(jax.jit(f)(x)), float(value), rtol=1e-6)
        assert f.__name__ == f"bbob_f{fid:03d}_i03_d05"
        one = jax.tree.map(lambda a, i=fids.index(fid): a[i], batch)
        np.testing.assert_allclose(float(bbob.evaluate(one, x, fid=fid)), float(value),
                                   rtol=1e-6)
    both = [bbob.instance(1, 3, 1), bbob.instance(24, 3, 1, dtype=np.float32)]
    stacked = bbob.stack(both)
    assert stacked.x_opt.shape == (2, 3) and stacked.peaks.shape == (2, bbob.PEAKS, 3)
    as_jax = bbob.stack([jax.tree.map(jnp.asarray, i) for i in both])
    assert isinstance(as_jax.x_opt, jax.Array)
    np.testing.assert_allclose(as_jax.R, stacked.R, rtol=1e-6)


def test_textbook_functions_keep_their_names():
    assert problems.sphere is problems.textbook.sphere
    assert float(problems.rosenbrock(jnp.ones(4))) == 0.0
    assert problems.bbob is bbob and not hasattr(bbob, "sphere")


@pytest.mark.parametrize("call, message", [
    (lambda: bbob.instance(25, 2, 1),
     "bbob.instance: fid must be a BBOB function id, an int from 1 to 24, got 25."),
    (lambda: bbob.instance(1.0, 2, 1),
     "bbob.instance: fid must be a BBOB function id, an int from 1 to 24, got 1.0."),
    (lambda: bbob.function(3, 1, 1),
     "bbob.instance: dim must be an int from 2 to 44 (the dimensions COCO's instance generator "
     "defines), got 1."),
    (lambda: bbob.instance(3, 45, 1),
     "bbob.instance: dim must be an int from 2 to 44 (the dimensions COCO's instance generator "
     "defines), got 45."),
    (lambda: bbob.instance(3, 2, 0), "bbob.instance: instance must be an int >= 1, got 0."),
    (lambda: bbob.instance(3, 2, 1, dtype=np.int32),
     "bbob.instance: dtype must be a floating dtype such as np.float64 or np.float32, got "
     "<class 'numpy.int32'>."),
    (lambda: bbob.evaluate(bbob.instance(3, 2, 1), jnp.zeros(3)),
     "bbob.evaluate: x must have shape (2,) (the instance's dimension), got shape (3,)."),
    (lambda: bbob.function(3, 2, 1)(jnp.zeros((4, 2))),
     "bbob.function(3, 2, 1): x must have shape (2,) (the instance's dimension), got shape "
     "(4, 2)."),
    (lambda: bbob.evaluate(bbob.stack([bbob.instance(3, 2, 1)] * 2), jnp.zeros(2)),
     "bbob.evaluate: params must be one instance (x_opt of shape [D]), got x_opt of shape "
     "(2, 2); vmap evaluate over a stacked batch."),
    (lambda: bbob.stack([bbob.instance(3, 2, 1), bbob.instance(3, 5, 1)]),
     "bbob.stack: instances must be single instances of one dimension, got dimensions [2, 5]."),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message
