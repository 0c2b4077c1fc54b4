"""``strategies.sampling``: the unrolled Threefry gives jax.random's own values, bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl.strategies import sampling

SHAPES = [(), (1,), (7,), (12, 20), (3, 4, 5), (1001,)]


def _normal(key, shape, dtype):
    return jax.jit(sampling.normal, static_argnums=(1, 2))(key, shape, dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2**31 - 1])
def test_normal_float32_equals_jax(shape, seed):
    key = jax.random.key(seed)
    ours = _normal(key, shape, jnp.float32)
    assert ours.shape == shape and ours.dtype == jnp.float32
    np.testing.assert_array_equal(ours, jax.random.normal(key, shape, jnp.float32))
    # A raw uint32 key means the default implementation, as in jax.random.
    raw = jax.random.PRNGKey(seed)
    np.testing.assert_array_equal(_normal(raw, shape, jnp.float32), ours)


@pytest.mark.parametrize("shape", SHAPES)
def test_normal_float64_equals_jax(shape):
    with jax.enable_x64(True):
        for seed in range(3):
            key = jax.random.key(seed)
            ours = _normal(key, shape, jnp.float64)
            assert ours.dtype == jnp.float64
            np.testing.assert_array_equal(ours, jax.random.normal(key, shape, jnp.float64))


def test_normal_is_standard_normal():
    z = np.asarray(_normal(jax.random.key(3), (200_000,), jnp.float32))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert np.isfinite(z).all()


@pytest.mark.parametrize("data", [0, 1, 7, 123_456, 2**31 - 1])
def test_fold_in_equals_jax(data):
    for key in (jax.random.key(5), jax.random.PRNGKey(5)):
        ours = jax.jit(sampling.fold_in)(key, jnp.int32(data))
        want = jax.random.key_data(jax.random.fold_in(key, data))
        np.testing.assert_array_equal(jax.random.key_data(ours), want)


def test_other_generators_and_dtypes_fall_back_to_jax():
    rbg = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(
        _normal(rbg, (4, 3), jnp.float32), jax.random.normal(rbg, (4, 3), jnp.float32)
    )
    np.testing.assert_array_equal(
        jax.random.key_data(sampling.fold_in(rbg, 3)),
        jax.random.key_data(jax.random.fold_in(rbg, 3)),
    )
    key = jax.random.key(0)
    half = _normal(key, (5,), jnp.bfloat16)
    assert half.dtype == jnp.bfloat16
    np.testing.assert_array_equal(half, jax.random.normal(key, (5,), jnp.bfloat16))
