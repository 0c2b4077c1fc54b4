"""Time to solve CartPole-v1: ours vs evosax's Open_ES, same popsize, policy, optimizer, sigma.

Both sides: popsize 256, the 4-32-32-2 tanh MLP with an argmax head, the same initial params,
Adam (learning rate 0.05), sigma 0.1, mirrored sampling, centered-rank fitness shaping, running
observation normalization, one episode per member. Timed until the first generation whose
population mean return reaches 475; ours checks once per compiled chunk of 5 generations (the
generations after the target inside that chunk are counted in its time); evosax runs its
ask / eval / tell loop as its README does (three jitted calls per generation), and, reported
beside it, the same three fused in one ``jax.jit``. Neither side logs or checkpoints.

Two measurements, median over ``--seeds`` seeds, interleaved:

- compiled (``ours_s``, ``evosax_s``, ``ours_over_evosax``): each side's functions are built and
  compiled once (a warm-up solve with another seed); then each seed is timed from the initial
  state to the target. This is the cost of the search itself: the environment steps, the policy
  and the strategy.
- cold (``*_cold_s``): every run starts with empty caches, so compilation is included. CartPole
  is solved in 3-18 generations, so this mostly measures the XLA compiler.

Last line: JSON with ``ours_s``, ``evosax_s`` and ``ours_over_evosax`` (compiled), the cold
figures, the fused evosax variant, and per seed the generations and seconds of the compiled runs.

    python benchmarks/cartpole_solve.py [--seeds 5] [--max-generations 200] [--quick]
"""

from __future__ import annotations

import os

# Cold means compiled inside the clock: no persistent compilation cache (importing evojax_rl
# would turn one on for every JAX program in the process, the peers' included).
os.environ["EVOJAX_RL_DISABLE_CACHE"] = "1"

import argparse
import dataclasses
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from common import emit
from evojax_rl.presets import PRESETS
from evojax_rl.trainer import build

TARGET = 475.0
POPSIZE, SIGMA, LR, CHUNK = 256, 0.1, 0.05, 5


def ours_build(max_gens: int):
    config = dataclasses.replace(
        PRESETS["cartpole-openes"].config, popsize=POPSIZE, chunk=CHUNK,
        strategy_kwargs={"sigma": SIGMA, "learning_rate": LR}, generations=max_gens,
    )
    return build(config)


def ours_solve(trainer, seed: int, max_gens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    ts = trainer.init(seed)
    g = 0
    while g < max_gens:
        ts, metrics = trainer.run_chunk(ts, CHUNK)
        means = jax.device_get(metrics["mean_return"])
        hit = [i for i, m in enumerate(means) if m >= TARGET]
        if hit:
            return time.perf_counter() - t0, g + hit[0] + 1
        g += CHUNK
    return float("nan"), g


def ours(seed: int, max_gens: int, trainer=None) -> tuple[float, int]:
    """Cold when ``trainer`` is None (built and compiled inside the clock)."""
    if trainer is not None:
        return ours_solve(trainer, seed, max_gens)
    t0 = time.perf_counter()
    _, gens = ours_solve(ours_build(max_gens), seed, max_gens)
    return time.perf_counter() - t0, gens


def initial_params(seed: int):
    """Our trainer's initial mean for ``seed`` (both sides start from it; computed untimed)."""
    trainer = build(dataclasses.replace(PRESETS["cartpole-openes"].config, popsize=POPSIZE))
    return jax.device_get(trainer.mean_params(trainer.init(seed)))


class EvosaxSide:
    """evosax's Open_ES and GymnaxProblem, built once (its jitted methods then stay compiled)."""

    def __init__(self, x0, fused: bool):
        from evosax.algorithms import Open_ES
        from evosax.problems import GymnaxProblem
        from evosax.problems.networks import MLP

        policy = MLP(layer_sizes=(32, 32, 2), output_fn=lambda x, key: jnp.argmax(x))
        self.problem = GymnaxProblem("CartPole-v1", policy, num_rollouts=1)
        self.es = Open_ES(POPSIZE, x0, use_antithetic_sampling=True, optimizer=optax.adam(LR),
                          std_schedule=optax.constant_schedule(SIGMA))
        self.params = self.es.default_params
        es, problem, params = self.es, self.problem, self.params

        def step(key, state, prob_state):
            k_ask, k_eval, k_tell = jax.random.split(key, 3)
            pop, state = es.ask(k_ask, state, params)
            fitness, prob_state, _ = problem.eval(k_eval, pop, prob_state)
            state, _ = es.tell(k_tell, pop, -fitness, state, params)  # evosax minimizes
            return state, prob_state, jnp.mean(fitness)

        self.step = jax.jit(step) if fused else step

    def solve(self, x0, seed: int, max_gens: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        key = jax.random.key(seed)
        key, k_init, k_prob = jax.random.split(key, 3)
        state = self.es.init(k_init, x0, self.params)
        prob_state = self.problem.init(k_prob)
        for g in range(max_gens):
            key, k = jax.random.split(key)
            state, prob_state, mean = self.step(k, state, prob_state)
            if float(mean) >= TARGET:
                return time.perf_counter() - t0, g + 1
        return float("nan"), max_gens


def evosax_run(seed: int, max_gens: int, fused: bool = False, side=None) -> tuple[float, int]:
    """evosax's ask / eval / tell loop. ``fused=False``: the three calls per generation, each
    jitted by evosax, as its README's loop does (``problem.eval`` returns every step's env
    state). ``fused=True``: the three inside one ``jax.jit`` (XLA then drops the unused states).
    Cold when ``side`` is None (built and compiled inside the clock)."""
    x0 = jax.tree.map(jnp.asarray, initial_params(seed))
    if side is not None:
        return side.solve(x0, seed, max_gens)
    jax.clear_caches()
    t0 = time.perf_counter()
    _, gens = EvosaxSide(x0, fused).solve(x0, seed, max_gens)
    return time.perf_counter() - t0, gens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-generations", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="1 seed")
    args = ap.parse_args()
    if args.quick:
        args.seeds = 1
    # Imports are not what we compare: load both sides' modules before any timing.
    import evosax.algorithms  # noqa: F401
    import evosax.problems  # noqa: F401
    import gymnax  # noqa: F401
    gens = args.max_generations
    rows = {k: [] for k in ("ours", "evosax", "evosax_fused", "ours_cold", "evosax_cold",
                            "evosax_fused_cold")}
    rows_gens = {k: [] for k in ("ours", "evosax", "evosax_fused")}  # generations per seed
    # Cold: every run starts with empty caches, so compilation is part of the time.
    cold = (("ours_cold", ours), ("evosax_cold", evosax_run),
            ("evosax_fused_cold", lambda s, g: evosax_run(s, g, fused=True)))
    for seed in range(args.seeds):
        for name, fn in cold:
            jax.clear_caches()
            s, n = fn(seed, gens)
            rows[name].append(s)
            print(f"cold     seed {seed} {name:17s} {s:7.2f} s  {n:4d} generations", flush=True)
    # Compiled: build each side once, warm it up with a solve of another seed, then time.
    jax.clear_caches()
    x0 = jax.tree.map(jnp.asarray, initial_params(0))
    trainer = ours_build(gens)
    sides = {"evosax": EvosaxSide(x0, fused=False), "evosax_fused": EvosaxSide(x0, fused=True)}
    ours(1000, gens, trainer)
    for side in sides.values():
        evosax_run(1000, gens, side=side)
    for seed in range(args.seeds):
        for name in ("ours", "evosax", "evosax_fused"):
            if name == "ours":
                s, n = ours(seed, gens, trainer)
            else:
                s, n = evosax_run(seed, gens, side=sides[name])
            rows[name].append(s)
            rows_gens[name].append(n)
            print(f"compiled seed {seed} {name:17s} {s:7.3f} s  {n:4d} generations", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    emit({
        "seeds": args.seeds,
        "popsize": POPSIZE, "sigma": SIGMA, "learning_rate": LR, "chunk": CHUNK, "target": TARGET,
        "generations": {k: rows_gens[k] for k in rows_gens},
        "seconds": {k: [round(x, 4) for x in rows[k]] for k in rows_gens},
        "ours_s": round(med["ours"], 3),
        "evosax_s": round(med["evosax"], 3),
        "ours_over_evosax": round(med["ours"] / med["evosax"], 3),
        "evosax_fused_s": round(med["evosax_fused"], 3),
        "ours_over_evosax_fused": round(med["ours"] / med["evosax_fused"], 3),
        "ours_cold_s": round(med["ours_cold"], 3),
        "evosax_cold_s": round(med["evosax_cold"], 3),
        "ours_over_evosax_cold": round(med["ours_cold"] / med["evosax_cold"], 3),
        "evosax_fused_cold_s": round(med["evosax_fused_cold"], 3),
    })


if __name__ == "__main__":
    main()
