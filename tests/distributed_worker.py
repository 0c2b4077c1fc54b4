"""One process of a multi-process test run: ``python distributed_worker.py PORT N I OUT``.

With ``N > 1`` it joins the run on ``127.0.0.1:PORT`` as process ``I`` of ``N``; it then
minimizes the 10-D Rosenbrock function with CMA-ES (popsize 16), the population split over every
device of every process, and process 0 writes the result's bits (hex) to the JSON file ``OUT``.
"""

import json
import sys

port, n, i, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

from evojax_rl import distributed  # noqa: E402

if n > 1:
    distributed.initialize(f"127.0.0.1:{port}", n, i)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from evojax_rl import loop, strategies  # noqa: E402


def rosenbrock(x):
    return -jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


r = loop.optimize(rosenbrock, strategies.cma_es(popsize=16), jnp.zeros(10),
                  key=jax.random.key(0), max_generations=150, devices=jax.device_count())
if jax.process_index() == 0:
    with open(out, "w") as f:
        json.dump({"devices": jax.device_count(), "processes": jax.process_count(),
                   "best_x": np.asarray(r.best_x).tobytes().hex(),
                   "history": np.asarray(r.history).tobytes().hex(),
                   "mean": np.asarray(jax.device_get(r.state.mean)).tobytes().hex(),
                   "best_fitness": r.best_fitness, "generations": r.generations}, f)
