"""Small models shared by the MCTS tests (not a test module). They play the role of the
learned model of MuZero (Schrittwieser et al. 2020) that mctx's interface assumes.

``mlp_model``: a random MLP world model, the same shape of model as the throughput benchmark,
usable with our library and with mctx (``lib`` picks the output types). The discount comes from
``params["mode"]`` (a number, so one compiled search serves all three): ``GAMMA`` (0.99),
``TWO_PLAYER`` (-1), or ``TERMINALS`` (-1, and 0 where the first embedding unit is above 0.5,
so some transitions end the game).

``masked_model``: the same MLP plus an invalid-action mask computed from the next embedding
(``invalid = sin(17 * W e) > threshold``, where ``threshold`` is in ``params`` so tests can vary
it without recompiling); ``mask_of(params, embedding)`` recomputes it for checks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


GAMMA, TWO_PLAYER, TERMINALS = 0, 1, 2


def mlp_params(key, embed=8, actions=5, masked=False, threshold=0.5, mode=GAMMA):
    k = jax.random.split(key, 7)

    def dense(kk, shape):
        return jax.random.normal(kk, shape) / np.sqrt(shape[0])

    params = dict(
        w0=dense(k[0], (embed, embed)),
        w1=dense(k[1], (embed + actions, embed)),
        wp=2.0 * dense(k[2], (embed, actions)),
        wv=dense(k[3], (embed,)),
        wr=dense(k[4], (embed,)),
        mode=jnp.asarray(mode, jnp.int32),
    )
    if masked:
        params["wm"] = dense(k[5], (embed, actions))
        params["threshold"] = jnp.asarray(threshold, jnp.float32)
    return params


def mask_of(params, embedding):
    """``[..., E] -> [..., A]`` bool, the masked model's invalid actions."""
    return jnp.sin(17.0 * embedding @ params["wm"]) > params["threshold"]


def mlp_model(lib, actions=5, masked=False):
    def recurrent_fn(params, key, action, embedding):
        del key
        x = jnp.concatenate([embedding, jax.nn.one_hot(action, actions)], axis=-1)
        h = jnp.tanh(x @ params["w1"])
        mode = params["mode"]
        terminal = (mode == TERMINALS) & (h[:, 0] > 0.5)
        discount = jnp.where(mode == GAMMA, 0.99, jnp.where(terminal, 0.0, -1.0))
        kw = dict(
            reward=0.3 * jnp.tanh(h @ params["wr"]),
            discount=discount,
            prior_logits=h @ params["wp"],
            value=jnp.tanh(h @ params["wv"]),
        )
        if masked:
            kw["invalid_actions"] = mask_of(params, h)
        return lib.RecurrentFnOutput(**kw), h

    return recurrent_fn


def mlp_root(lib, params, batch, seed=1):
    obs = jax.random.normal(jax.random.PRNGKey(seed), (batch, params["w0"].shape[0]))
    h = jnp.tanh(obs @ params["w0"])
    return lib.RootFnOutput(
        prior_logits=h @ params["wp"], value=jnp.tanh(h @ params["wv"]), embedding=h
    )


def terminal_bandit(lib, rewards):
    """Every root action ends the game with ``rewards[a]``; embeddings are ``[B, 1]`` zeros."""
    rewards = jnp.asarray(rewards, jnp.float32)

    def recurrent_fn(params, key, action, embedding):
        del params, key
        b = action.shape[0]
        out = lib.RecurrentFnOutput(
            reward=rewards[action],
            discount=jnp.zeros((b,)),
            prior_logits=jnp.zeros((b, rewards.shape[0])),
            value=jnp.zeros((b,)),
        )
        return out, embedding

    return recurrent_fn
