"""CMA-ES (full covariance) and sep-CMA-ES (diagonal covariance).

Sources:
- N. Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772, 2016/2023); equation
  numbers below refer to it. Sampling (eq. 38-40), mean update (41), path for sigma (43),
  sigma update (44, 37), path for C (45), covariance update with active (negative) weights
  (46-47, 53), default weights (49-53), hsig (Sec. B.5, "Fig. 6" footnote).
- Constants follow pycma's defaults (N. Hansen et al., pycma 4.x, ``CMAOptions``): cs with "+3",
  the 0.25 offset in cmu, c1 scaled by ``min(1, lambda/6)``, the damps formula with its mueff
  term, negative weights limited as in ``RecombinationWeights.finalize_negative_weights``,
  eigendecomposition every ``1 / (c1 + cmu) / D / 10`` generations (lazy update), and the
  default stop criteria (tolfun, tolfunhist, tolx, tolstagnation, tolconditioncov, noeffectaxis,
  noeffectcoord, tolupsigma, tolflatfitness, maxiter).
- sep-CMA-ES: R. Ros & N. Hansen, "A Simple Modification in CMA-ES Achieving Linear Time and Space
  Complexity" (PPSN 2008): a diagonal C with larger learning rates (pycma's ``c1_sep``,
  ``cmu_sep``, ``cc_sep``).

Fitness is **maximized** (pycma minimizes; sorting is reversed, nothing else changes).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation
from evojax_rl.strategies import base, sampling


class CMAConstants(NamedTuple):
    """Static constants for dimension ``D`` and population ``P`` (Python floats/arrays)."""

    dim: int
    popsize: int
    mu: int
    weights: np.ndarray  # [P] positive (sum 1) then negative (active) weights, float64
    mueff: float
    cc: float
    cs: float
    c1: float
    cmu: float
    damps: float
    chi_n: float  # E||N(0, I)||
    eigen_gap: float  # generations between eigendecompositions
    history: int  # length of the best-fitness history for tolfun/tolfunhist (pycma's fit.hist)
    tolstagnation: int
    maxiter: int


def _raw_weights(popsize):
    """Tutorial eq. (49): ``ln((P+1)/2) - ln i``; positive part scaled to sum 1."""
    w = math.log((popsize + 1) / 2) - np.log(np.arange(1, popsize + 1))
    mu = int(np.sum(w > 0))
    pos = w[:mu] / w[:mu].sum()
    mueff = 1.0 / float(np.sum(pos**2))
    neg = w[mu:]
    mueff_minus = float(neg.sum() ** 2 / np.sum(neg**2)) if np.any(neg < 0) else 0.0
    return mu, pos, neg, mueff, mueff_minus


def _finalize_negative(neg, dim, c1, cmu, mueff, mueff_minus):
    """Scale negative weights: sum to ``-(1 + c1/cmu)`` (zero decay), then cap the sum by
    ``(1 - c1 - cmu) / cmu / D`` (positive definiteness) and ``1 + 2 mueff-/(mueff + 2)``
    (tutorial eq. 53; pycma's ``finalize_negative_weights``)."""
    if not np.any(neg < 0) or cmu <= 0:
        return np.zeros_like(neg)
    neg = neg / -neg.sum()  # now sums to -1
    total = 1 + c1 / cmu
    total = min(total, (1 - c1 - cmu) / cmu / dim)
    total = min(total, 1 + 2 * mueff_minus / (mueff + 2))
    return neg * total


def chi_n(dim: int) -> float:
    """``E||N(0, I_D)||`` computed exactly with log-gamma."""
    return math.sqrt(2) * math.exp(math.lgamma((dim + 1) / 2) - math.lgamma(dim / 2))


def stop_settings(dim: int, popsize: int | None = None) -> dict:
    """pycma's defaults of ``maxiter`` and ``tolstagnation`` for ``dim`` and the ``popsize``
    option (None: the default population)."""
    pf = base.option_popsize(dim, popsize)
    n = float(dim)
    return {
        "maxiter": int(100 + 150 * (n + 3) ** 2 // pf**0.5),
        "tolstagnation": int(100 + 100 * n**1.5 / pf),
    }


def constants(dim: int, popsize: int | None = None, *, separable: bool = False,
              maxiter: int | None = None, tolstagnation: int | None = None) -> CMAConstants:
    """pycma's default constants for dimension ``dim`` and population ``popsize``;
    ``maxiter``/``tolstagnation``: None for pycma's defaults (``stop_settings``)."""
    p = base.resolve_popsize(popsize, dim)
    n = float(dim)
    mu, pos, neg, mueff, mueff_minus = _raw_weights(p)
    if separable:
        cc = (1 + 1 / n + mueff / n) / (n**0.5 + 1 / n + 2 * mueff / n)
        c1 = 1.0 / (n + 2 * n**0.5 + mueff / n)
        cmu = min(1 - c1, (0.25 + mueff + 1 / mueff - 2) / (n + 4 * n**0.5 + mueff / 2))
    else:
        cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
        c1 = min(1, p / 6) * 2 / ((n + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (0.25 + mueff + 1 / mueff - 2) / ((n + 2) ** 2 + mueff))
    cs = min(0.5, (mueff + 2) / (n + mueff + 3))
    damp_in = max(1.0, 3 * (1 - 0.5 ** (n / 9)))
    # lam_mirr = 0 (no mirrors for popsize >= 6), so the mirror term is 1/2.
    damps = 0.5 + 0.5 + 2 * max(0.0, damp_in * ((mueff - 1) / (n + 1)) ** 0.5 - 1) + cs
    weights = np.concatenate([pos, _finalize_negative(neg, dim, c1, cmu, mueff, mueff_minus)])
    stops = stop_settings(dim, popsize)  # with the unrounded default popsize, as pycma's
    return CMAConstants(
        dim=dim,
        popsize=p,
        mu=mu,
        weights=weights,
        mueff=mueff,
        cc=cc,
        cs=cs,
        c1=c1,
        cmu=cmu,
        damps=damps,
        chi_n=chi_n(dim),
        eigen_gap=1.0 / (c1 + cmu + 1e-23) / n / 10,
        history=int(10 + 30 * n / p),  # pycma keeps at most 10 + 30 N / P entries
        tolstagnation=stops["tolstagnation"] if tolstagnation is None else tolstagnation,
        maxiter=stops["maxiter"] if maxiter is None else maxiter,
    )


class CMAESState(NamedTuple):
    """State of ``cma_es``/``sep_cma_es``. ``D``: dimension; ``H``: fitness-history length.

    For ``sep_cma_es`` the covariance is diagonal: ``cov``, ``eigvecs`` have shape ``[D]``
    (``eigvecs`` unused, all ones). ``eigvecs`` and ``eigvals_sqrt`` are refreshed by ``ask``
    (lazily, as pycma's ``B`` and ``D``): after ``tell`` they still describe the ``C`` the last
    population was drawn from.
    """

    mean: jax.Array  # [D]
    sigma: jax.Array  # [] step size
    cov: jax.Array  # [D, D] covariance C (sep: [D] diagonal)
    eigvecs: jax.Array  # [D, D] B, columns are eigenvectors of C (sep: [D] ones)
    eigvals_sqrt: jax.Array  # [D] square roots of C's eigenvalues (sep: sqrt(diag C))
    path_c: jax.Array  # [D] evolution path p_c
    path_sigma: jax.Array  # [D] conjugate evolution path p_sigma
    generation: jax.Array  # [] int32 generations told
    last_eigen: jax.Array  # [] int32 generation of the last eigendecomposition
    sigma0: jax.Array  # [] initial step size (for tolupsigma)
    best_history: jax.Array  # [H] best fitness of the last H generations (ring buffer; the
    # first generation's fills it, so its range is that of the generations so far)
    last_range: jax.Array  # [] max - min fitness of the last generation
    best_ever: jax.Array  # [] best fitness seen
    best_generation: jax.Array  # [] int32 generation of the last improvement of best_ever
    flat_count: jax.Array  # [] int32 consecutive generations with flat fitness
    layout: base.Layout


# Stop thresholds (pycma defaults).
TOLFUN, TOLFUNHIST, TOLX = 1e-11, 1e-12, 1e-11
TOLCONDITIONCOV, TOLUPSIGMA, TOLFLATFITNESS = 1e14, 1e20, 1


@base.memoize
def _build(popsize, separable, maxiter, tolstagnation):
    def consts(dim):
        return constants(dim, popsize, separable=separable, maxiter=maxiter,
                         tolstagnation=tolstagnation)

    def ask_flat(key, state):
        d = state.mean.shape[0]
        k = consts(d)
        eigvecs, eigvals_sqrt, last_eigen = _decompose(state, k.eigen_gap, separable)
        state = state._replace(eigvecs=eigvecs, eigvals_sqrt=eigvals_sqrt, last_eigen=last_eigen)
        z = sampling.normal(key, (k.popsize, d), state.mean.dtype)
        if separable:
            y = z * state.eigvals_sqrt
        else:
            y = (z * state.eigvals_sqrt) @ state.eigvecs.T
        return state.mean + state.sigma * y, state

    def inv_sqrt(state, v):
        """``C^{-1/2} v`` with the current decomposition; ``v: [..., D]``."""
        if separable:
            return v / state.eigvals_sqrt
        return ((v @ state.eigvecs) / state.eigvals_sqrt) @ state.eigvecs.T

    def tell_flat(flat, fitness, state):
        d = state.mean.shape[0]
        k = consts(d)
        dt = state.mean.dtype
        order = jnp.argsort(-fitness)  # best first (maximization)
        y = (flat[order] - state.mean) / state.sigma  # [P, D]
        weights = jnp.asarray(k.weights, dt)
        w_pos = jnp.maximum(weights, 0)
        y_mean = w_pos @ y  # [D]
        mean = state.mean + state.sigma * y_mean  # eq. 41 (cmean = 1)

        g = state.generation + 1
        z = inv_sqrt(state, y)  # [P, D] C^{-1/2} y_i, reused below
        ps = (1 - k.cs) * state.path_sigma + math.sqrt(k.cs * (2 - k.cs) * k.mueff) * (
            w_pos @ z
        )  # eq. 43
        norm_ps2 = jnp.sum(jnp.square(ps)) / (1 - (1 - k.cs) ** (2 * g.astype(dt)))
        hsig = (norm_ps2 / d - 1 < 1 + 4.0 / (d + 1)).astype(dt)
        pc = (1 - k.cc) * state.path_c + hsig * math.sqrt(k.cc * (2 - k.cc) * k.mueff) * y_mean
        c1a = k.c1 * (1 - (1 - hsig**2) * k.cc * (2 - k.cc))

        # Active update: negative weights rescaled by D / ||C^{-1/2} y||^2 (eq. 46-47).
        maha2 = jnp.sum(jnp.square(z), axis=-1)
        w_cov = jnp.where(weights < 0, weights * d / jnp.square(jnp.sqrt(maha2) + 1e-9), weights)
        decay = 1 - c1a - k.cmu * float(np.sum(k.weights))
        if separable:
            cov = decay * state.cov + k.c1 * jnp.square(pc) + k.cmu * (w_cov @ jnp.square(y))
        else:
            cov = (
                decay * state.cov
                + k.c1 * jnp.outer(pc, pc)
                + k.cmu * (y.T * w_cov) @ y
            )  # eq. 47
        step = (k.cs / k.damps) * (jnp.linalg.norm(ps) / k.chi_n - 1)  # eq. 44
        sigma = state.sigma * jnp.exp(jnp.clip(step, -1.0, 1.0))

        best = fitness[order[0]]
        improved = best > state.best_ever
        # pycma: flat when the best equals the value at rank floor(0.75 P).
        flat_now = fitness[order[0]] == fitness[order[int(0.75 * k.popsize)]]
        return state._replace(
            mean=mean,
            sigma=sigma,
            cov=cov,
            path_c=pc,
            path_sigma=ps,
            generation=g,
            # The first generation's best fills the ring, so that its range is the range of
            # the entries so far, as in pycma's growing list.
            best_history=jnp.where(
                state.generation == 0,
                jnp.full_like(state.best_history, best),
                jax.lax.dynamic_update_index_in_dim(
                    state.best_history, best, state.generation % k.history, 0
                ),
            ),
            last_range=fitness[order[0]] - fitness[order[-1]],
            best_ever=jnp.where(improved, best, state.best_ever),
            best_generation=jnp.where(improved, g, state.best_generation),
            flat_count=jnp.where(flat_now, state.flat_count + 1, 0),
        )

    def stop(state):
        d = state.mean.shape[0]
        k = consts(d)
        g = state.generation
        if separable:
            diag = state.cov
            axis_shift = 0.1 * state.sigma * state.eigvals_sqrt[g % d] * jax.nn.one_hot(g % d, d)
        else:
            diag = jnp.diag(state.cov)
            axis_shift = 0.1 * state.sigma * state.eigvals_sqrt[g % d] * state.eigvecs[:, g % d]
        # pycma reads its history as soon as it has entries (tolfun) or 10 (tolfunhist), not
        # once it is full: a run stuck on a plateau ends after 10 generations, not ~H.
        hist_range = jnp.max(state.best_history) - jnp.min(state.best_history)
        ev = jnp.square(state.eigvals_sqrt)
        checks = [
            (10, (g > 0) & (hist_range < TOLFUN) & (state.last_range < TOLFUN)),
            (11, (g >= 10) & (hist_range < TOLFUNHIST)),
            (
                12,
                jnp.all(state.sigma * jnp.abs(state.path_c) < TOLX)
                & jnp.all(state.sigma * jnp.sqrt(diag) < TOLX),
            ),
            (13, g - state.best_generation > k.tolstagnation),
            (14, jnp.max(ev) > TOLCONDITIONCOV * jnp.min(ev)),
            (15, (g > 0) & jnp.all(state.mean == state.mean + axis_shift)),
            (16, (g > 0) & jnp.any(state.mean == state.mean + 0.2 * state.sigma * jnp.sqrt(diag))),
            (17, state.sigma / state.sigma0 > TOLUPSIGMA * jnp.sqrt(jnp.max(ev))),
            (18, state.flat_count > TOLFLATFITNESS),
            (19, g >= k.maxiter),
        ]
        code = jnp.zeros((), jnp.int32)
        for c, hit in reversed(checks):  # the first listed criterion wins
            code = jnp.where(hit, c, code)
        return code

    ask, tell = base.wrap_flat(ask_flat, tell_flat)
    return ask, tell, stop


def _decompose(state, gap, separable):
    """Lazy eigendecomposition of C, due once ``gap`` generations have been told since the
    last one; done when sampling, as pycma's ``update_now`` (so ``stop`` sees the
    decomposition the last population was drawn from, as in pycma)."""
    cov, g = state.cov, state.generation
    if separable:
        return state.eigvecs, jnp.sqrt(jnp.maximum(cov, 1e-30)), g

    def fresh(c):
        c = (c + c.T) / 2
        vals, vecs = jnp.linalg.eigh(c)
        tiny = jnp.finfo(c.dtype).tiny
        return vecs, jnp.sqrt(jnp.maximum(vals, tiny)), g

    def keep(c):
        return state.eigvecs, state.eigvals_sqrt, state.last_eigen

    if gap <= 1:  # due every generation (D <= 87 with the default popsize): no branch
        return fresh(cov)
    told = g - state.last_eigen
    due = (told > 0) & (told.astype(jnp.float32) >= gap)
    return jax.lax.cond(due, fresh, keep, cov)

# The sweepable number and what it may be (checked in the factory and in ``init``).
_RULES = {"sigma": validation.positive}


def _make(name, separable, popsize, sigma, maxiter, tolstagnation):
    if popsize is not None:
        popsize = base.check_popsize(popsize, minimum=2, who=name)
    if maxiter is not None:
        maxiter = validation.check_int("maxiter", maxiter, 1, who=name)
    if tolstagnation is not None:
        tolstagnation = validation.check_int("tolstagnation", tolstagnation, 1, who=name)
    defaults = dict(sigma=sigma)
    validation.check_all(_RULES, defaults, name)
    ask, tell, stop = _build(popsize, separable, maxiter, tolstagnation)

    def init(key, x0, **hyperparams):
        del key
        h = base.apply_overrides(defaults, hyperparams, name, _RULES)
        layout = base.Layout.of(x0)
        mean = layout.ravel(x0)
        d = mean.shape[0]
        k = constants(d, popsize, separable=separable, maxiter=maxiter,
                      tolstagnation=tolstagnation)
        dt = mean.dtype
        sigma0 = jnp.asarray(h["sigma"], dt)
        if separable:
            cov, eigvecs = jnp.ones((d,), dt), jnp.ones((d,), dt)
        else:
            # From NumPy: jnp.eye is six small programs to compile on first use (0.4 s).
            cov, eigvecs = jnp.asarray(np.eye(d, dtype=dt)), jnp.asarray(np.eye(d, dtype=dt))
        return CMAESState(
            mean=mean,
            sigma=sigma0,
            cov=cov,
            eigvecs=eigvecs,
            eigvals_sqrt=jnp.ones((d,), dt),
            path_c=jnp.zeros((d,), dt),
            path_sigma=jnp.zeros((d,), dt),
            generation=jnp.zeros((), jnp.int32),
            last_eigen=jnp.zeros((), jnp.int32),
            sigma0=sigma0,
            best_history=jnp.zeros((k.history,), dt),  # filled by the first tell
            last_range=jnp.asarray(jnp.finfo(dt).max, dt),
            best_ever=jnp.asarray(jnp.finfo(dt).min, dt),
            best_generation=jnp.zeros((), jnp.int32),
            flat_count=jnp.zeros((), jnp.int32),
            layout=layout,
        )

    return base.Strategy(init, ask, tell, stop=stop)


def cma_es(popsize: int | None = None, *, sigma: float = 1.0, maxiter: int | None = None,
           tolstagnation: int | None = None) -> base.Strategy:
    """Full-covariance CMA-ES with pycma's default constants. Fitness is **maximized**.

    Args:
      popsize: ``P``; None: ``4 + floor(3 ln D)`` (pycma's default).
      sigma: initial step size (> 0); sweepable via ``init(..., sigma=...)``.
      maxiter, tolstagnation: the generations after which the run stops, and those without a
        new best after which it stops (pycma's options of these names); None: pycma's defaults
        for D and the popsize (``stop_settings``). IPOP restarts keep the first run's values,
        as pycma's do.

    ``stop(state)`` implements pycma's default stop criteria (codes in ``STOP_REASONS``);
    tolstagnation is simplified to "no new best fitness within tolstagnation generations", and
    pycma's tolfacupx (sigma grown 1e3-fold) and tolxstagnation (a mean that has not moved by
    1e-9 for 20 + 10% of the generations) are not implemented.
    """
    return _make("cma_es", False, popsize, sigma, maxiter, tolstagnation)


def sep_cma_es(popsize: int | None = None, *, sigma: float = 1.0, maxiter: int | None = None,
               tolstagnation: int | None = None) -> base.Strategy:
    """Separable (diagonal) CMA-ES, linear in ``D`` per sample. Fitness is **maximized**.
    Arguments as ``cma_es``'s."""
    return _make("sep_cma_es", True, popsize, sigma, maxiter, tolstagnation)


# What IPOP restarts keep from the first run (see restarts.ipop): pycma's fmin2 evaluates the
# options once, for the first run's popsize, and passes them on to every restart.
cma_es.restart_settings = stop_settings
sep_cma_es.restart_settings = stop_settings
