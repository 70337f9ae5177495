"""TransMix (Chen et al., CVPR 2022) on `cifar10_vit_deit`: the same ViT, optimiser and DeiT
switch (Mixup 0.8 for half of the batches, CutMix 1.0 for the others), the CutMix batches'
labels weighed by the class token's attention on the pasted patches after the forward pass.
docs/RESULTS.md has the figures.
"""

from cutmix_jax.config import files


def get_config():
  config = files.load('cifar10_vit_deit.py', relative_to=__file__)
  config.mix.method = 'transmix'
  switch = config.mix.cutmix  # the DeiT switch moves to TransMix's own section
  config.mix.transmix.mixup_prob, config.mix.transmix.mixup_alpha = 0.5, 0.8
  switch.mixup_prob, switch.mixup_alpha = 0.0, 0.0
  return config
