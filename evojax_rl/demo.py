"""``python -m evojax_rl.demo``: minimize a 10-D Rosenbrock with CMA-ES and OpenAI-ES.

Prints, for each strategy, the best value reached, the evaluations used and the wall time.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

import evojax_rl as ejr


def main() -> None:
    neg_rosenbrock = lambda x: -ejr.problems.rosenbrock(x)  # noqa: E731  (fitness is maximized)
    runs = {
        "CMA-ES": (ejr.strategies.cma_es(sigma=0.5), 3000),
        "OpenAI-ES": (ejr.strategies.open_es(popsize=64, sigma=0.02, learning_rate=0.01), 3000),
    }
    print("10-D Rosenbrock from x0 = 0 (f(x0) = 9, minimum 0 at all ones), target f <= 1e-8")
    for name, (strategy, generations) in runs.items():
        start = time.perf_counter()
        result = ejr.optimize(neg_rosenbrock, strategy, jnp.zeros(10), key=jax.random.key(0),
                              max_generations=generations, target_fitness=-1e-8)
        seconds = time.perf_counter() - start
        print(f"{name:>10}: f = {-result.best_fitness:.3e} after {result.evaluations} evaluations "
              f"({result.generations} generations, {seconds:.1f} s incl. compile, "
              f"stopped on {result.stop_reason})")


if __name__ == "__main__":
    main()
