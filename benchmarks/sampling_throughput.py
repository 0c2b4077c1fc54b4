"""Normal samples: ``strategies.sampling.normal`` against ``jax.random.normal`` (same values).

    python benchmarks/sampling_throughput.py [--rounds 7] [--quick]

Each shape is drawn inside one jitted call (summed, so only the scalar comes back), with a new
key per call; calls of the two are interleaved round by round, and the median time per call is
reported. Shapes: a CMA-ES population in 20-D (float64), and OpenAI-ES populations of a small
and a large network (float32). Last line: JSON with ``ours_over_jax`` per shape.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import emit
from evojax_rl.strategies import sampling

jax.config.update("jax_enable_x64", True)

SHAPES = {
    "cma-20d 12x20 f64": ((12, 20), jnp.float64, 2000),
    "es 128x1000 f32": ((128, 1_000), jnp.float32, 200),
    "es 256x10000 f32": ((256, 10_000), jnp.float32, 10),
}


def timer(fn, shape, dtype, calls):
    f = jax.jit(lambda k: fn(k, shape, dtype).sum())
    key = jax.random.key(0)
    f(key).block_until_ready()  # compile
    keys = [jax.random.fold_in(key, i) for i in range(calls)]

    def once():
        t = time.perf_counter()
        for k in keys:
            f(k).block_until_ready()
        return (time.perf_counter() - t) / calls

    return once


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 3
    out = {"rounds": args.rounds, "shapes": {}}
    for name, (shape, dtype, calls) in SHAPES.items():
        runners = {"jax": timer(jax.random.normal, shape, dtype, calls),
                   "ours": timer(sampling.normal, shape, dtype, calls)}
        times = {k: [] for k in runners}
        for _ in range(args.rounds):
            for k, once in runners.items():
                times[k].append(once())
        row = {f"{k}_us": float(np.median(v) * 1e6) for k, v in times.items()}
        row["ours_over_jax"] = row["ours_us"] / row["jax_us"]
        out["shapes"][name] = row
        print(name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    emit(out)


if __name__ == "__main__":
    main()
