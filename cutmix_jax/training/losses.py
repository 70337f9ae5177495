"""The train loss against soft (mixed) targets, chosen by `config.loss`.

- 'softmax_cross_entropy': the paper's and DeiT's loss.
- 'binary_cross_entropy': one sigmoid per class (DeiT III; timm's `BinaryCrossEntropy`), averaged
  over the classes so that its batch mean is PyTorch's `BCEWithLogitsLoss()` over `(N, K)`. With
  `bce_target_threshold >= 0` a target above the threshold counts as 1 and the rest as 0 (DeiT III
  binarizes the mixed targets at 0: every class in the mix is a positive); with
  `SOFT_TARGETS` the mixed targets are used as they are (timm's default).

Each returns per-example losses `(N,)` in float32.
"""

import jax.numpy as jnp
import optax

LOSSES = ('softmax_cross_entropy', 'binary_cross_entropy')
SOFT_TARGETS = -1.0  # bce_target_threshold that keeps the soft targets


def check_loss(name: str, bce_target_threshold: float) -> None:
  """Raises ValueError for an unknown loss or a threshold outside `[0, 1)` (or `SOFT_TARGETS`)."""
  if name not in LOSSES:
    raise ValueError(f'unknown loss {name!r}; valid: {", ".join(map(repr, LOSSES))}')
  if not (bce_target_threshold == SOFT_TARGETS or 0.0 <= bce_target_threshold < 1.0):
    raise ValueError(
        f'bce_target_threshold must be in [0, 1), or {SOFT_TARGETS} for the soft targets; '
        f'got {bce_target_threshold!r}'
    )


def softmax_cross_entropy(logits, targets):
  """Per-example cross-entropy of `(N, K)` logits against soft targets `(N, K)`."""
  return optax.softmax_cross_entropy(logits.astype(jnp.float32), targets.astype(jnp.float32))


def binary_cross_entropy(logits, targets, bce_target_threshold: float = SOFT_TARGETS):
  """Per-example binary cross-entropy, the mean over the K classes of one sigmoid each."""
  targets = targets.astype(jnp.float32)
  if bce_target_threshold != SOFT_TARGETS:
    targets = (targets > bce_target_threshold).astype(jnp.float32)
  return optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), targets).mean(-1)
