"""DeiT's mixing and optimiser on a small ViT for 32 x 32 images (`vit_cifar`), at CPU scale.

DeiT (Touvron et al., 2021) trains every ViT with Mixup 0.8 and CutMix 1.0 switched per batch
(half each), label smoothing 0.1, AdamW (lr 5e-4 x batch/512, weight decay 0.05) on a cosine
schedule with 5 warm-up epochs, and drop path 0.1. This recipe keeps those on the built-in real
CIFAR-10 subset, with the paper's crop and flip only: the study in docs/RESULTS.md ran so. DeiT's
other augmentations are data settings (`--config.data.rand_augment=rand-m9-mstd0.5-inc1
--config.data.random_erasing=0.25 --config.data.repeated_augmentation=3`; docs/data.md), as
`imagenet_deit_small` sets them.
"""

from cutmix_jax.config import files
from cutmix_jax.recipes import _deit


def get_config():
  config = _deit.with_deit_training(files.load('default.py', relative_to=__file__))
  config.model = 'vit_cifar'
  config.dtype = 'float32'
  config.num_epochs = 100
  config.eval_every_epochs = 10
  return config
