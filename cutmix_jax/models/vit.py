"""Vision Transformers: DeiT's Tiny, Small and Base, DeiT III's Small and Base, and a small one
for 32 x 32 images.

The layout of timm's `deit_{tiny,small,base}_patch16_224` (a class token, learned position
embeddings, pre-norm blocks, the head on the class token), so their parameter counts are equal.
DeiT III's (timm's `deit3_{small,base}_patch16_224`) add LayerScale to every residual branch and
give the class token no position embedding.
Stochastic depth (`drop_path`) draws from the 'dropout' rng stream, which the train step gives.
Asked for (apply with `mutable=['attention']`), the last block sows its class token's attention
over the patches, averaged over heads, `(N, h*w)` (`cls_attention` reads it): what TransMix
weighs the labels by. Not asked for, nothing is kept.
"""

import functools
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from cutmix_jax.models import filter_gradient
from cutmix_jax.ops.feature_mix import FeatureMix

ATTENTION = 'attention'  # the collection of the class token's attention
_init = nn.initializers.truncated_normal(0.02)
_dense = functools.partial(nn.Dense, kernel_init=_init)
_norm = functools.partial(nn.LayerNorm, epsilon=1e-6)


def cls_attention(collections) -> jax.Array:
  """The class token's attention over the patches `(N, h*w)` that the last block sowed into
  `collections` (the mutable output of `apply(..., mutable=['attention'])`)."""
  (found,) = jax.tree.leaves(collections[ATTENTION])
  return found


class DropPath(nn.Module):
  """Drops the residual branch of whole examples with probability `rate` (stochastic depth)."""

  rate: float

  @nn.compact
  def __call__(self, x, train: bool):
    if not train or self.rate == 0.0:
      return x
    keep = 1.0 - self.rate
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    kept = jax.random.bernoulli(self.make_rng('dropout'), keep, shape)
    return jnp.where(kept, x / keep, 0).astype(x.dtype)


class LayerScale(nn.Module):
  """Multiplies tokens `(..., D)` by a learned per-channel `gamma` `(D,)` that starts at `init`."""

  init: float

  @nn.compact
  def __call__(self, x):
    gamma = self.param('gamma', nn.initializers.constant(self.init), (x.shape[-1],))
    return x * gamma.astype(x.dtype)


class SelfAttention(nn.Module):
  """Multi-head self-attention over tokens `(N, T, D)`; the softmax in float32."""

  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, keep_cls_attention: bool = False):
    n, t, d = x.shape
    head_dim = d // self.num_heads
    qkv = _dense(3 * d, dtype=self.dtype, name='qkv')(x).reshape(n, t, 3, self.num_heads, head_dim)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    logits = jnp.einsum('nqhc,nkhc->nhqk', q * head_dim**-0.5, k)
    weights = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    if keep_cls_attention and self.is_mutable_collection(ATTENTION) and not self.is_initializing():
      self.sow(ATTENTION, 'cls', weights[:, :, 0, 1:].mean(axis=1))
    out = jnp.einsum('nhqk,nkhc->nqhc', weights.astype(self.dtype), v).reshape(n, t, d)
    return _dense(d, dtype=self.dtype, name='proj')(out)


class EncoderBlock(nn.Module):
  """Pre-norm block: attention, then an MLP (GELU), each a residual branch with drop path and,
  if `layer_scale_init` is not 0, LayerScale (`ls1`, `ls2`) before the drop path, as timm's."""

  num_heads: int
  mlp_ratio: int = 4
  drop_path: float = 0.0
  layer_scale_init: float = 0.0
  dtype: Any = jnp.float32

  def _residual(self, x, y, train: bool, name: str):
    if self.layer_scale_init:
      y = LayerScale(self.layer_scale_init, name=name)(y)
    return x + DropPath(self.drop_path)(y, train)

  @nn.compact
  def __call__(self, x, train: bool, keep_cls_attention: bool = False):
    d = x.shape[-1]
    y = SelfAttention(self.num_heads, self.dtype, name='attn')(
        _norm(dtype=self.dtype, name='norm1')(x), keep_cls_attention
    )
    x = self._residual(x, y, train, 'ls1')
    y = _norm(dtype=self.dtype, name='norm2')(x)
    y = _dense(self.mlp_ratio * d, dtype=self.dtype, name='fc1')(y)
    y = _dense(d, dtype=self.dtype, name='fc2')(nn.gelu(y, approximate=False))
    return self._residual(x, y, train, 'ls2')


class VisionTransformer(nn.Module):
  """A ViT classifier on the class token.

  Attributes:
    num_classes: K.
    patch_size: side of the square patches (the image side must be a multiple).
    width: the token dimension D.
    depth: the number of blocks.
    num_heads: attention heads (D divisible by it).
    mlp_ratio: the MLP's hidden width over D.
    drop_path: stochastic depth of the last block, rising linearly from 0 at the first.
    layer_scale_init: the start value of every LayerScale `gamma` (DeiT III: 1e-6); 0: no
      LayerScale (timm's `init_values`).
    class_token_position: whether the class token gets a row of the position embedding too
      (`(1, h*w + 1, D)`, DeiT's) or none (`(1, h*w, D)`, DeiT III's, timm's `no_embed_class`).
    dtype: compute dtype (parameters, softmax and logits float32).
  """

  num_classes: int
  patch_size: int = 16
  width: int = 384
  depth: int = 12
  num_heads: int = 6
  mlp_ratio: int = 4
  drop_path: float = 0.0
  layer_scale_init: float = 0.0
  class_token_position: bool = True
  dtype: Any = jnp.float32

  @property
  def num_stages(self) -> int:
    """No stages: feature-level CutMix is for the stage-wise CNNs."""
    return 0

  @nn.compact
  def __call__(self, x, train: bool = False, feature_mix: Optional[FeatureMix] = None):
    """Classifies images `(N, H, W, C)`; returns float32 logits `(N, num_classes)`."""
    if feature_mix is not None:
      raise ValueError(
          'feature-level CutMix mixes at the stage boundaries of a CNN (ResNet, PyramidNet); '
          'a VisionTransformer has none: use level=input'
      )
    p = self.patch_size
    if x.shape[1] % p or x.shape[2] % p:
      raise ValueError(
          f'images {x.shape[1]}x{x.shape[2]} are not a whole number of {p}x{p} patches'
      )
    x = nn.Conv(
        self.width,
        (p, p),
        (p, p),
        'VALID',
        dtype=self.dtype,
        conv_general_dilated=filter_gradient.conv_general_dilated,  # faster on the CPU
        name='patch_embed',
    )(x)
    n, h, w, d = x.shape
    cls = self.param('cls_token', _init, (1, 1, d))
    position = self.param('pos_embed', _init, (1, h * w + int(self.class_token_position), d))
    cls = jnp.broadcast_to(cls, (n, 1, d)).astype(x.dtype)
    x = x.reshape(n, h * w, d)
    if self.class_token_position:
      x = jnp.concatenate([cls, x], 1) + position
    else:
      x = jnp.concatenate([cls, x + position], 1)
    x = x.astype(self.dtype)
    for i in range(self.depth):
      block = EncoderBlock(
          self.num_heads,
          self.mlp_ratio,
          drop_path=self.drop_path * i / max(self.depth - 1, 1),
          layer_scale_init=self.layer_scale_init,
          dtype=self.dtype,
          name=f'block{i}',
      )
      x = block(x, train, keep_cls_attention=i == self.depth - 1)
    x = _norm(dtype=self.dtype, name='norm')(x).astype(jnp.float32)
    self.sow('intermediates', 'features', x[:, 1:].reshape(n, h, w, d))
    head = nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name='head')  # as timm
    return head(x[:, 0])


# DeiT (Touvron et al., 2021) at 224 x 224 with 16 x 16 patches.
deit_tiny = functools.partial(VisionTransformer, width=192, num_heads=3)
deit_small = functools.partial(VisionTransformer, width=384, num_heads=6)
deit_base = functools.partial(VisionTransformer, width=768, num_heads=12)
# DeiT III (Touvron et al., 2022): LayerScale from 1e-6, no position embedding on the class token.
_deit3 = functools.partial(VisionTransformer, layer_scale_init=1e-6, class_token_position=False)
deit3_small = functools.partial(_deit3, width=384, num_heads=6)
deit3_base = functools.partial(_deit3, width=768, num_heads=12)
# For 32 x 32 images (CIFAR): 4 x 4 patches (64 tokens), small enough for two CPU cores.
vit_cifar = functools.partial(VisionTransformer, patch_size=4, width=128, depth=6, num_heads=4)
