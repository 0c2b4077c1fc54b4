"""Throughput of our batched MCTS against DeepMind's mctx, measured in one run.

Model: a random MLP (embedding 64, one tanh layer of 64 units over ``[embedding, one_hot(a)]``,
heads for 9 prior logits, value, reward; discount 0.99). Settings: batch 256 and 1024, 64 and
128 simulations; ``muzero_policy`` (PUCT) and ``gumbel_muzero_policy`` with their defaults.
One more setting (batch 256, 64 simulations) has uniform priors (all prior logits zero): an
exact tie at every new node, where matching mctx costs our PUCT most (its tie-breaking is
keyed, and we pay for the keys in a second descent when a near-tie was seen).
Ours and mctx's calls are interleaved, each repeated; we report medians (the machine may be
shared). Each pair is also checked to produce the same root visit counts (with Dirichlet noise
off and ``gumbel_scale=0`` in a separate call), so the speed is for the same search; ``--quick``
leaves that check out (``same_visits`` is null), since it compiles every search a second time.

Prints human-readable lines, then, as the last line, one JSON object with simulations per second
and ratios per setting (``settings``); ``puct_ours_over_mctx`` and ``gumbel_ours_over_mctx`` are
the worst over the random-prior settings, ``*_uniform_ours_over_mctx`` the uniform-prior ones.
Also ``memory``: bytes of one tree from ``mcts.tree_nbytes`` for a few node and action counts.

    python benchmarks/mcts_throughput.py [--repeats 5] [--quick]

References: Silver et al. 2017 (PUCT search); Danihelka et al. 2022 (Gumbel MuZero).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mctx  # noqa: E402

from common import emit  # noqa: E402
from evojax_rl import mcts  # noqa: E402

EMBED, ACTIONS = 64, 9


def make_params(key):
    k = jax.random.split(key, 5)
    dense = lambda kk, shape: jax.random.normal(kk, shape) / np.sqrt(shape[0])  # noqa: E731
    return dict(
        w0=dense(k[0], (EMBED, EMBED)),
        w1=dense(k[1], (EMBED + ACTIONS, EMBED)),
        b1=jnp.zeros(EMBED),
        wp=dense(k[2], (EMBED, ACTIONS)),
        wv=dense(k[3], (EMBED,)),
        wr=dense(k[4], (EMBED,)),
    )


def make_recurrent_fn(lib, uniform=False):
    def recurrent_fn(params, key, action, embedding):
        del key
        x = jnp.concatenate([embedding, jax.nn.one_hot(action, ACTIONS)], axis=-1)
        h = jnp.tanh(x @ params["w1"] + params["b1"])
        out = lib.RecurrentFnOutput(
            reward=0.1 * jnp.tanh(h @ params["wr"]),
            discount=jnp.full(h.shape[:1], 0.99),
            prior_logits=jnp.zeros_like(h @ params["wp"]) if uniform else h @ params["wp"],
            value=jnp.tanh(h @ params["wv"]),
        )
        return out, h

    return recurrent_fn


def make_root(lib, params, batch, uniform=False):
    obs = jax.random.normal(jax.random.PRNGKey(1), (batch, EMBED))
    h = jnp.tanh(obs @ params["w0"])
    logits = h @ params["wp"]
    return lib.RootFnOutput(
        prior_logits=jnp.zeros_like(logits) if uniform else logits,
        value=jnp.tanh(h @ params["wv"]), embedding=h,
    )


def policy(lib, name, sims, uniform=False, **kw):
    fn = getattr(lib, name)
    recurrent_fn = make_recurrent_fn(lib, uniform)
    return jax.jit(functools.partial(fn, recurrent_fn=recurrent_fn, num_simulations=sims, **kw))


def same_search(name, params, root, sims, uniform):
    off = dict(dirichlet_fraction=0.0) if name == "muzero_policy" else dict(gumbel_scale=0.0)
    key = jax.random.PRNGKey(7)
    ours = policy(mcts, name, sims, uniform, **off)(params, key, root)
    theirs = policy(mctx, name, sims, uniform, **off)(params, key, root)
    return bool(
        np.array_equal(
            ours.search_tree.children_visits[:, 0], theirs.search_tree.children_visits[:, 0]
        )
    )


def timed(fn, params, root, seed):
    start = time.perf_counter()
    jax.block_until_ready(fn(params, jax.random.PRNGKey(seed), root).action_weights)
    return time.perf_counter() - start


def memory_table(nodes=(65, 129, 257, 1025), actions=(9, 82, 362)):
    rows = []
    for a in actions:
        for n in nodes:
            rows.append(
                dict(
                    num_nodes=n,
                    num_actions=a,
                    bytes_without_embedding=mcts.tree_nbytes(n, a),
                    bytes_with_embedding_64xf32=mcts.tree_nbytes(n, a, EMBED * 4),
                )
            )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="batch 256, 64 simulations (random and uniform priors), 3 repeats, "
                        "no visit-count check (it compiles every search a second time)")
    args = parser.parse_args(argv)
    # (batch, simulations, uniform priors)
    settings = [(256, 64, False), (256, 128, False), (1024, 64, False), (1024, 128, False),
                (256, 64, True)]
    repeats = args.repeats
    if args.quick:
        settings, repeats = [settings[0], settings[4]], 3

    print(f"jax {jax.__version__}, mctx {mctx.__version__}, {jax.devices()[0].platform}")
    params = make_params(jax.random.PRNGKey(0))
    result = dict(settings=[], repeats=repeats, embedding=EMBED, actions=ACTIONS)
    ratios = {}
    for batch, sims, uniform in settings:
        root = make_root(mctx, params, batch, uniform)
        entry = dict(batch=batch, simulations=sims, uniform_prior=uniform)
        for name in ("muzero_policy", "gumbel_muzero_policy"):
            fns = {who: policy(lib, name, sims, uniform) for who, lib in (("ours", mcts),
                                                                           ("mctx", mctx))}
            for fn in fns.values():  # compile
                timed(fn, params, root, 0)
            times = {"ours": [], "mctx": []}
            for r in range(repeats):
                order = ("ours", "mctx") if r % 2 == 0 else ("mctx", "ours")
                for who in order:
                    times[who].append(timed(fns[who], params, root, r + 1))
            rate = {who: batch * sims / float(np.median(t)) for who, t in times.items()}
            equal = None if args.quick else same_search(name, params, root, sims, uniform)
            ratio = rate["ours"] / rate["mctx"]
            short = "puct" if name == "muzero_policy" else "gumbel"
            ratios.setdefault((short, uniform), []).append(ratio)
            entry[f"{short}_ours_sims_per_s"] = round(rate["ours"])
            entry[f"{short}_mctx_sims_per_s"] = round(rate["mctx"])
            entry[f"{short}_ratio"] = round(ratio, 2)
            entry[f"{short}_same_visits"] = equal
            print(
                f"B={batch:5d} S={sims:4d} {'uniform ' if uniform else ''}{name:21s} "
                f"ours {rate['ours']:10.0f} sims/s  mctx {rate['mctx']:10.0f} sims/s  "
                f"ratio {ratio:5.2f}x  same visits: {equal}"
            )
        result["settings"].append(entry)

    result["memory"] = memory_table()
    print("Tree memory per tree (B = 1), bytes = N * (20 + 25 * A) + 4 (+ N * embedding):")
    for row in result["memory"]:
        print(
            f"  N={row['num_nodes']:5d} A={row['num_actions']:4d}: "
            f"{row['bytes_without_embedding']:10d} B, with 64 x f32 embedding "
            f"{row['bytes_with_embedding_64xf32']:10d} B"
        )
    for (short, uniform), rs in ratios.items():
        result[f"{short}_{'uniform_' if uniform else ''}ours_over_mctx"] = round(min(rs), 2)
    emit(result)


if __name__ == "__main__":
    main()
