"""Bench-only check of the ViTs against timm's: parameter counts, and the same function.

Counts timm's `deit_{tiny,small,base}_patch16_224` and `deit3_{small,base}_patch16_224` beside
`cutmix_jax.models`' `deit_*` and `deit3_*`, then copies timm's (randomly initialised) DeiT-Tiny
and DeiT III-Small weights into the Flax models and compares the logits and the last block's
class-token attention on one random batch. timm and torch live in an environment of their own
(`pip install torch torchvision timm` there); the project never imports them.

  /tmp/timmenv/bin/python bench/timm_vit.py     # with the project importable (PYTHONPATH=.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import timm
import torch

from cutmix_jax import models
from cutmix_jax.models import vit

NAMES = ('deit_tiny', 'deit_small', 'deit_base', 'deit3_small', 'deit3_base')


def flax_count(name: str) -> int:
  model = models.get_model(name, 1000)
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 224, 224, 3)))
  return sum(leaf.size for leaf in jax.tree.leaves(shapes['params']))


def flax_params_of(torch_model, depth: int) -> dict:
  """timm's state dict in this project's layout (kernels transposed to `(in, out)`, the patch
  convolution to HWIO, LayerScale's `gamma` where timm has one)."""
  state = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
  dense = lambda prefix: {'kernel': state[f'{prefix}.weight'].T, 'bias': state[f'{prefix}.bias']}
  norm = lambda prefix: {'scale': state[f'{prefix}.weight'], 'bias': state[f'{prefix}.bias']}
  params = {
      'patch_embed': {
          'kernel': state['patch_embed.proj.weight'].transpose(2, 3, 1, 0),
          'bias': state['patch_embed.proj.bias'],
      },
      'cls_token': state['cls_token'],
      'pos_embed': state['pos_embed'],
      'norm': norm('norm'),
      'head': dense('head'),
  }
  for i in range(depth):
    b = f'blocks.{i}'
    params[f'block{i}'] = {
        'norm1': norm(f'{b}.norm1'),
        'norm2': norm(f'{b}.norm2'),
        'attn': {'qkv': dense(f'{b}.attn.qkv'), 'proj': dense(f'{b}.attn.proj')},
        'fc1': dense(f'{b}.mlp.fc1'),
        'fc2': dense(f'{b}.mlp.fc2'),
    }
    for ls in ('ls1', 'ls2'):
      if f'{b}.{ls}.gamma' in state:
        params[f'block{i}'][ls] = {'gamma': state[f'{b}.{ls}.gamma']}
  return params


def compare(name: str) -> None:
  """Prints how far this project's `name` is from timm's on timm's random weights, with a head
  (and LayerScale) far from their starts, so that every branch shows in the logits."""
  torch.manual_seed(0)
  reference = timm.create_model(f'{name}_patch16_224').eval()
  with torch.no_grad():
    reference.head.weight.normal_(0, 0.02)
    for key, gamma in reference.named_parameters():
      if key.endswith('.gamma'):
        gamma.uniform_(-1, 1)
  images = np.random.default_rng(0).normal(size=(4, 224, 224, 3)).astype(np.float32)
  attention = {}
  block = reference.blocks[-1].attn
  block.fused_attn = False  # the explicit softmax, whose output the hook below reads
  block.attn_drop.register_forward_hook(lambda m, i, o: attention.setdefault('a', o))
  with torch.no_grad():
    want = reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
  want_cls = attention['a'][:, :, 0, 1:].mean(1).numpy()
  model = models.get_model(name, 1000)
  got, kept = model.apply(
      {'params': flax_params_of(reference, model.depth)}, jnp.asarray(images), mutable=['attention']
  )
  print(f'{name} logits: max |timm - ours| {np.abs(want - np.asarray(got)).max():.2e} '
        f'(logits up to {np.abs(want).max():.2f})')  # fmt: skip
  got_cls = np.asarray(vit.cls_attention(kept))
  print(f'{name} class-token attention: max |timm - ours| {np.abs(want_cls - got_cls).max():.2e}')


def main():
  for name in NAMES:
    theirs = sum(p.numel() for p in timm.create_model(f'{name}_patch16_224').parameters())
    ours = flax_count(name)
    print(f'{name}: timm {theirs:,}  cutmix_jax {ours:,}  equal {theirs == ours}')
  for name in ('deit_tiny', 'deit3_small'):
    compare(name)


if __name__ == '__main__':
  main()
