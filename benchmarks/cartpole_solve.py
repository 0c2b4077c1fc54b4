"""Time to solve CartPole-v1: ours vs evosax's Open_ES, same popsize, policy, optimizer, sigma.

Both sides: popsize 256, the 4-32-32-2 tanh MLP with an argmax head, the same initial params,
Adam (learning rate 0.05), sigma 0.1, mirrored sampling, centered-rank fitness shaping, running
observation normalization, one episode per member. Timed from a cold start (compilation
included) until the first generation whose population mean return reaches 475; ours checks once
per compiled chunk of 5 generations (the generations after the target inside that chunk are
counted in its time); evosax runs its ask / eval / tell loop as its README does (three jitted
calls per generation), and, reported beside it, the same three fused in one ``jax.jit``. Neither
side logs or checkpoints; the initial params are computed before the clock starts for evosax (and
inside it for ours). Median over ``--seeds`` seeds, interleaved.

Last line: JSON with ``ours_s``, ``evosax_s`` and ``ours_over_evosax``, plus ``evosax_fused_s``
and ``ours_over_evosax_fused``.

    python benchmarks/cartpole_solve.py [--seeds 5] [--max-generations 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from evojax_rl.presets import PRESETS
from evojax_rl.trainer import build

TARGET = 475.0
POPSIZE, SIGMA, LR, CHUNK = 256, 0.1, 0.05, 5


def ours(seed: int, max_gens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    config = dataclasses.replace(
        PRESETS["cartpole-openes"].config, popsize=POPSIZE, chunk=CHUNK,
        strategy_kwargs={"sigma": SIGMA, "learning_rate": LR}, generations=max_gens,
    )
    trainer = build(config)
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


def initial_params(seed: int):
    """Our trainer's initial mean for ``seed`` (both sides start from it; computed untimed)."""
    trainer = build(dataclasses.replace(PRESETS["cartpole-openes"].config, popsize=POPSIZE))
    return jax.device_get(trainer.mean_params(trainer.init(seed)))


def evosax_run(seed: int, max_gens: int, fused: bool = False) -> tuple[float, int]:
    """evosax's ask / eval / tell loop. ``fused=False``: the three calls per generation, each
    jitted by evosax, as its README's loop does (``problem.eval`` returns every step's env
    state). ``fused=True``: the three inside one ``jax.jit`` (XLA then drops the unused states)."""
    from evosax.algorithms import Open_ES
    from evosax.problems import GymnaxProblem
    from evosax.problems.networks import MLP

    x0 = jax.tree.map(jnp.asarray, initial_params(seed))
    jax.clear_caches()
    t0 = time.perf_counter()
    policy = MLP(layer_sizes=(32, 32, 2), output_fn=lambda x, key: jnp.argmax(x))
    problem = GymnaxProblem("CartPole-v1", policy, num_rollouts=1)
    es = Open_ES(POPSIZE, x0, use_antithetic_sampling=True, optimizer=optax.adam(LR),
                 std_schedule=optax.constant_schedule(SIGMA))
    params = es.default_params
    key = jax.random.key(seed)
    key, k_init, k_prob = jax.random.split(key, 3)
    state = es.init(k_init, x0, params)
    prob_state = problem.init(k_prob)

    def step(key, state, prob_state):
        k_ask, k_eval, k_tell = jax.random.split(key, 3)
        pop, state = es.ask(k_ask, state, params)
        fitness, prob_state, _ = problem.eval(k_eval, pop, prob_state)
        state, _ = es.tell(k_tell, pop, -fitness, state, params)  # evosax minimizes
        return state, prob_state, jnp.mean(fitness)

    if fused:
        step = jax.jit(step)

    for g in range(max_gens):
        key, k = jax.random.split(key)
        state, prob_state, mean = step(k, state, prob_state)
        if float(mean) >= TARGET:
            return time.perf_counter() - t0, g + 1
    return float("nan"), max_gens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-generations", type=int, default=200)
    args = ap.parse_args()
    # Imports are not what we compare: load both sides' modules before any timing.
    import evosax.algorithms  # noqa: F401
    import evosax.problems  # noqa: F401
    import gymnax  # noqa: F401
    rows = {"ours": [], "evosax": [], "evosax_fused": []}
    runners = (("ours", ours), ("evosax", evosax_run),
               ("evosax_fused", lambda s, g: evosax_run(s, g, fused=True)))
    for seed in range(args.seeds):
        for name, fn in runners:
            jax.clear_caches()  # every run starts cold: compilation is part of the time
            s, gens = fn(seed, args.max_generations)
            rows[name].append(s)
            print(f"seed {seed} {name:7s} {s:7.2f} s  {gens:4d} generations", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"# jax {jax.__version__}, {jax.device_count()} device(s), popsize {POPSIZE}")
    print(json.dumps({
        "ours_s": round(med["ours"], 3),
        "evosax_s": round(med["evosax"], 3),
        "ours_over_evosax": round(med["ours"] / med["evosax"], 3),
        "evosax_fused_s": round(med["evosax_fused"], 3),
        "ours_over_evosax_fused": round(med["ours"] / med["evosax_fused"], 3),
    }))


if __name__ == "__main__":
    main()
