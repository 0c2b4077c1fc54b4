"""The model interface of the search: what the root and recurrent functions return.

The names, fields and their order follow DeepMind's mctx (Danihelka et al. 2022, "Policy
improvement by planning with Gumbel", and the mctx README), so a user switches libraries by
changing an import. One field is ours: an optional trailing ``invalid_actions`` mask, so that
a model can say which actions are illegal at *every* node, not only at the root (mctx issues
#29, #89). It defaults to ``None`` ("all actions valid"), so mctx-style constructions work as is,
and objects from mctx itself (which lack the field) are accepted by our policies too.

In the shapes below ``B`` is the batch, ``A`` the number of actions. Masks hold ``True`` (or 1)
for invalid actions, as mctx's ``invalid_actions`` argument does.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Optional, Tuple, TypeVar

import chex
import jax

Params = Any
RecurrentState = Any
T = TypeVar("T")


@chex.dataclass(frozen=True)
class RootFnOutput:
    """The model's output at the root.

    prior_logits: ``[B, A]`` policy logits.
    value: ``[B]`` value estimate of the root state.
    embedding: ``[B, ...]`` any pytree, the state handed to the first ``recurrent_fn`` call.
    invalid_actions: ``[B, A]`` bool or ``None`` (ours): invalid actions at the root; OR-ed with
      the policy's ``invalid_actions`` argument.
    """

    prior_logits: chex.Array
    value: chex.Array
    embedding: RecurrentState
    invalid_actions: Optional[chex.Array] = None


@chex.dataclass(frozen=True)
class RecurrentFnOutput:
    """The model's output for one transition ``(embedding, action) -> next state``.

    reward: ``[B]`` reward of the transition.
    discount: ``[B]`` factor between ``reward`` and the next state's ``value``: ``1`` (or
      ``gamma``) in single-agent tasks, ``-1`` in two-player zero-sum games (values are from the
      view of the player to move), ``0`` after a terminal transition.
    prior_logits: ``[B, A]`` policy logits at the next state.
    value: ``[B]`` value estimate of the next state.
    invalid_actions: ``[B, A]`` bool or ``None`` (ours): invalid actions at the next state. The
      search never selects them there, and their prior probability is set to zero.
    """

    reward: chex.Array
    discount: chex.Array
    prior_logits: chex.Array
    value: chex.Array
    invalid_actions: Optional[chex.Array] = None


@chex.dataclass(frozen=True)
class PolicyOutput(Generic[T]):
    """What a policy returns.

    action: ``[B]`` int32, the proposed action.
    action_weights: ``[B, A]``, sums to one: targets for training the policy network.
    search_tree: the ``Tree`` of the finished search (``[B, N, ...]`` fields).
    """

    action: chex.Array
    action_weights: chex.Array
    search_tree: Any


RecurrentFn = Callable[
    [Params, jax.Array, chex.Array, RecurrentState], Tuple[RecurrentFnOutput, RecurrentState]
]


def mask_invalid_logits(logits, invalid):
    """Give invalid actions zero prior mass: ``logits, invalid: [B, A] -> [B, A]``.

    As mctx does at the root: logits are shifted so their max is 0 and invalid ones become the
    most negative finite number (not ``-inf``, so a softmax over an all-invalid row stays
    finite). ``invalid=None`` returns the logits unchanged.
    """
    if invalid is None:
        return logits
    logits = logits - jax.numpy.max(logits, axis=-1, keepdims=True)
    return jax.numpy.where(invalid, jax.numpy.finfo(logits.dtype).min, logits)
