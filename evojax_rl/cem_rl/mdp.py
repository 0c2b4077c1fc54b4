"""Exact tools for small finite MDPs: value iteration and the exact expected return of a policy.

The objective is the one the cross-entropy method maximizes: the **undiscounted** return of an
episode cut at a step limit ``H`` (``gamma = 1``; a discount ``gamma < 1`` is also accepted),
starting from the start distribution. Everything here is host-side numpy in float64.

A model is a ``TabularMDP``: ``transition[s, a, s']`` is the probability that the step from ``s``
with action ``a`` lands in ``s'`` *and the episode goes on*; ``1 - transition[s, a].sum()`` is the
probability that this step ends it. ``reward[s, a]`` is the step's expected reward. So the
expected return of policy ``pi`` with ``k`` steps left is

    V_0 = 0,
    V_k(s) = sum_a pi(a|s) [reward(s, a) + gamma sum_s' transition(s, a, s') V_{k-1}(s')]

and ``value_iteration`` takes the max over ``a`` instead. ``V_H`` from value iteration is the best
return of *any* policy, including ones that depend on the time left; the tabular CEM policy is
stationary (one distribution per state). Where a stationary policy is optimal (a deterministic
shortest-path-like task such as Taxi, whose optimal episodes are far shorter than its limit) the
greedy policy's exact return equals ``V_H`` at the start; otherwise (slippery FrozenLake at 100
steps) it can be a little below, and both numbers should be reported.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from evojax_rl import validation


class TabularMDP(NamedTuple):
    """``transition: f64[S, A, S]`` (sub-stochastic: the missing mass ends the episode),
    ``reward: f64[S, A]`` (expected reward of a step), ``start: f64[S]`` (sums to 1)."""

    transition: np.ndarray
    reward: np.ndarray
    start: np.ndarray

    @property
    def n_states(self) -> int:
        return self.reward.shape[0]

    @property
    def n_actions(self) -> int:
        return self.reward.shape[1]


def _check_start(start: Any, n_states: int) -> np.ndarray:
    start = np.asarray(start, np.float64)
    if start.shape != (n_states,) or np.any(start < 0) or not np.isclose(start.sum(), 1.0):
        raise ValueError(f"start must be a probability vector of length {n_states} (non-negative, "
                         f"summing to 1), got shape {start.shape} summing to {start.sum():.6g}.")
    return start


def deterministic_mdp(next_state: Any, reward: Any, done: Any, start: Any) -> TabularMDP:
    """The ``TabularMDP`` of a deterministic model: ``next_state: int[S, A]``, ``reward[S, A]``,
    ``done: bool[S, A]`` (the step ends the episode), ``start[S]``."""
    next_state = np.asarray(next_state)
    s, a = next_state.shape if next_state.ndim == 2 else (0, 0)
    if next_state.ndim != 2 or not np.issubdtype(next_state.dtype, np.integer) or (
            s and (next_state.min() < 0 or next_state.max() >= s)):
        raise ValueError("next_state must be an int array [S, A] of state indices in 0..S-1, got "
                         f"dtype {next_state.dtype} and shape {next_state.shape}.")
    reward = np.asarray(reward, np.float64)
    done = np.asarray(done, bool)
    for name, arr in (("reward", reward), ("done", done)):
        if arr.shape != (s, a):
            raise ValueError(f"{name} must have next_state's shape {(s, a)}, got {arr.shape}.")
    transition = np.zeros((s, a, s))
    rows, cols = np.indices((s, a))
    transition[rows, cols, next_state] = (~done).astype(np.float64)
    return TabularMDP(transition, reward, _check_start(start, s))


def _check(mdp: Any, horizon: Any, gamma: Any, who: str) -> int:
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"{who}: mdp must be a TabularMDP, got {type(mdp).__name__}.")
    validation.check_number("gamma", gamma, 0.0, 1.0, low_open=True, who=who)
    return validation.check_int("horizon", horizon, 1, who=who)


def value_iteration(mdp: TabularMDP, horizon: int, gamma: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(V, policy)``: the optimal expected return ``V: f64[S]`` of each state with ``horizon``
    steps left (``horizon`` Bellman backups from ``V_0 = 0``), and ``policy: int32[S]``, the greedy
    action with ``horizon`` steps left (an optimal first action; lowest index among ties).
    The optimum from the start distribution is ``mdp.start @ V``."""
    horizon = _check(mdp, horizon, gamma, "value_iteration")
    v = np.zeros(mdp.n_states)
    q = mdp.reward.copy()
    for _ in range(horizon):
        q = mdp.reward + gamma * (mdp.transition @ v)
        v = q.max(axis=1)
    return v, q.argmax(axis=1).astype(np.int32)


def as_stochastic(policy: Any, n_states: int, n_actions: int) -> np.ndarray:
    """``f64[S, A]`` rows of action probabilities from ``int[S]`` actions or ``[S, A]`` rows."""
    policy = np.asarray(policy)
    if policy.shape == (n_states,) and np.issubdtype(policy.dtype, np.integer):
        if policy.min() < 0 or policy.max() >= n_actions:
            raise ValueError(f"a deterministic policy's actions must be in 0..{n_actions - 1}, "
                             f"got values from {policy.min()} to {policy.max()}.")
        return np.eye(n_actions)[policy]
    if policy.shape != (n_states, n_actions):
        raise ValueError(f"policy must be int[{n_states}] actions or [{n_states}, {n_actions}] "
                         f"probabilities, got dtype {policy.dtype} and shape {policy.shape}.")
    policy = policy.astype(np.float64)
    if np.any(policy < 0) or not np.allclose(policy.sum(1), 1.0, atol=1e-5):
        raise ValueError("a stochastic policy's rows must be non-negative and sum to 1.")
    return policy / policy.sum(1, keepdims=True)


def policy_values(mdp: TabularMDP, policy: Any, horizon: int, gamma: float = 1.0) -> np.ndarray:
    """``f64[S]``: the exact expected return of ``policy`` from each state over ``horizon`` steps.

    ``policy``: ``int[S]`` (deterministic) or ``[S, A]`` action probabilities (rows sum to 1)."""
    horizon = _check(mdp, horizon, gamma, "policy_values")
    pi = as_stochastic(policy, mdp.n_states, mdp.n_actions)
    r_pi = (pi * mdp.reward).sum(1)
    p_pi = np.einsum("sa,sat->st", pi, mdp.transition)
    v = np.zeros(mdp.n_states)
    for _ in range(horizon):
        v = r_pi + gamma * (p_pi @ v)
    return v


def policy_return(mdp: TabularMDP, policy: Any, horizon: int, gamma: float = 1.0) -> float:
    """The exact expected return of ``policy`` from the start distribution (see
    ``policy_values``)."""
    return float(mdp.start @ policy_values(mdp, policy, horizon, gamma))


FROZEN_LAKE_4X4 = ("SFFF", "FHFH", "FFFH", "HFFG")


def frozen_lake_mdp(desc: Sequence[str] = FROZEN_LAKE_4X4, *, slippery: bool = True,
                    success_rate: float = 1.0 / 3.0) -> TabularMDP:
    """The exact model of FrozenLake (gymnax's ``FrozenLake-misc``, Gymnasium's rules).

    Cells row-major (state = ``row * ncol + col``); actions 0 left, 1 down, 2 right, 3 up; a move
    off the grid stays put. Slippery: the intended move with probability ``success_rate``, else
    one of the two perpendicular moves, equally likely. Landing on a hole (``H``) or the goal
    (``G``) ends the episode; the goal pays 1, everything else 0. Start: the ``S`` cell.
    """
    rows = tuple(desc)
    if not rows or any(len(r) != len(rows[0]) for r in rows) or any(
            ch not in "SFHG" for r in rows for ch in r) or "".join(rows).count("S") != 1:
        raise ValueError(f"desc must be a rectangular map of S, F, H and G with one S, "
                         f"got {desc!r}.")
    validation.check_number("success_rate", success_rate, 0.0, 1.0, who="frozen_lake_mdp")
    nrow, ncol = len(rows), len(rows[0])
    flat = "".join(rows)
    n = nrow * ncol
    moves = ((0, -1), (1, 0), (0, 1), (-1, 0))
    transition = np.zeros((n, 4, n))
    reward = np.zeros((n, 4))
    for s in range(n):
        r, c = divmod(s, ncol)
        for a in range(4):
            outcomes = ([(a, success_rate), ((a - 1) % 4, (1 - success_rate) / 2),
                         ((a + 1) % 4, (1 - success_rate) / 2)] if slippery else [(a, 1.0)])
            for move, p in outcomes:
                r2 = min(max(r + moves[move][0], 0), nrow - 1)
                c2 = min(max(c + moves[move][1], 0), ncol - 1)
                s2 = r2 * ncol + c2
                if flat[s2] == "G":
                    reward[s, a] += p
                if flat[s2] not in "HG":
                    transition[s, a, s2] += p
    start = np.zeros(n)
    start[flat.index("S")] = 1.0
    return TabularMDP(transition, reward, start)
