"""Policy-value networks for AlphaZero (flax.linen), without mutable state.

A network maps ``observation: [B, *O]`` (pgx's mover-view observation, bool or float; cast to
float32) to ``(logits: [B, A] float32, value: [B] float32 in (-1, 1))``: the logits are the search's
prior (illegal actions are masked by the search, not here), the value is ``tanh`` of the value
head, the expected outcome for the player to move.

- ``"mlp"``: flatten, ``Dense + relu`` layers of widths ``hidden``, then the two heads.
- ``"resnet"``: for board observations ``[B, H, W, C]``: a 3x3 conv stem to ``channels``,
  ``blocks`` residual blocks (conv 3x3, LayerNorm, relu, conv 3x3, LayerNorm, add, relu), then a
  policy head (1x1 conv to 2 channels, flatten, Dense A) and a value head (spatial mean, Dense
  ``channels`` + relu, Dense 1, tanh). LayerNorm instead of BatchNorm keeps ``apply`` pure.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from evojax_rl import validation

KINDS = ("mlp", "resnet")


class MLP(nn.Module):
    """``[B, *O] -> (logits [B, A], value [B])`` through ``Dense + relu`` layers of ``hidden``."""

    num_actions: int
    hidden: Sequence[int] = (128, 128)

    @nn.compact
    def __call__(self, observation):
        x = jnp.asarray(observation, jnp.float32)
        x = x.reshape((x.shape[0], -1))
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        logits = nn.Dense(self.num_actions)(x)
        value = jnp.tanh(nn.Dense(1)(x)[:, 0])
        return logits.astype(jnp.float32), value.astype(jnp.float32)


class ResidualBlock(nn.Module):
    """``x + LN(conv(relu(LN(conv(x)))))``, then relu; ``[B, H, W, C] -> [B, H, W, C]``."""

    channels: int

    @nn.compact
    def __call__(self, x):
        y = nn.Conv(self.channels, (3, 3), padding="SAME")(x)
        y = nn.relu(nn.LayerNorm()(y))
        y = nn.Conv(self.channels, (3, 3), padding="SAME")(y)
        y = nn.LayerNorm()(y)
        return nn.relu(x + y)


class ResNet(nn.Module):
    """``[B, H, W, C] -> (logits [B, A], value [B])``: conv stem, residual tower, two heads."""

    num_actions: int
    channels: int = 32
    blocks: int = 2

    @nn.compact
    def __call__(self, observation):
        x = jnp.asarray(observation, jnp.float32)
        if x.ndim != 4:
            raise ValueError(f"the resnet network needs board observations [B, H, W, C], got "
                             f"shape {tuple(x.shape)}; use kind 'mlp' for other shapes.")
        x = nn.relu(nn.LayerNorm()(nn.Conv(self.channels, (3, 3), padding="SAME")(x)))
        for _ in range(self.blocks):
            x = ResidualBlock(self.channels)(x)
        p = nn.relu(nn.Conv(2, (1, 1))(x))
        logits = nn.Dense(self.num_actions)(p.reshape((p.shape[0], -1)))
        v = nn.relu(nn.Dense(self.channels)(jnp.mean(x, axis=(1, 2))))
        value = jnp.tanh(nn.Dense(1)(v)[:, 0])
        return logits.astype(jnp.float32), value.astype(jnp.float32)


def make_network(kind: str, num_actions: int, *, hidden: Sequence[int] = (128, 128),
                 channels: int = 32, blocks: int = 2) -> nn.Module:
    """The ``kind`` network (``"mlp"`` or ``"resnet"``) with ``num_actions`` logits.

    ``hidden`` is the MLP's layer widths; ``channels``/``blocks`` the ResNet's tower. Bad values
    raise ``ValueError`` in one sentence.
    """
    validation.check_choice("kind", kind, KINDS)
    validation.check_int("num_actions", num_actions, 1)
    if kind == "mlp":
        hidden = tuple(validation.check_int("hidden width", h, 1) for h in hidden)
        return MLP(num_actions=num_actions, hidden=hidden)
    return ResNet(num_actions=num_actions, channels=validation.check_int("channels", channels, 1),
                  blocks=validation.check_int("blocks", blocks, 0))


def init_params(module: nn.Module, key: jax.Array, observation_shape: Sequence[int]):
    """The module's parameters for observations of shape ``observation_shape`` (no batch axis)."""
    return jax.jit(module.init)(key, jnp.zeros((1, *observation_shape), jnp.float32))


def apply_fn(module: nn.Module) -> Callable:
    """``(params, observation: [B, *O]) -> (logits: [B, A], value: [B])``, the form
    ``game.model`` and the self-play and learner take."""

    def apply(params, observation):
        return module.apply(params, observation)

    return apply
