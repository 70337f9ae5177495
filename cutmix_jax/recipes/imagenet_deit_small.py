"""DeiT-S on ImageNet as DeiT (Touvron et al., 2021) trains it: 300 epochs at batch 1024.

The DeiT recipe: AdamW at lr 5e-4 x batch/512 with weight decay 0.05, a cosine schedule with 5
warm-up epochs down to 1e-5, drop path 0.1, label smoothing 0.1; CutMix (Beta 1) or, for half of
the batches, Mixup (Beta 0.8), on every batch; RandAugment `rand-m9-mstd0.5-inc1`, random erasing
0.25 and repeated augmentation 3 (timm's settings of the DeiT repository), with bicubic resizes.
DeiT's paper reports 79.8 % top-1 for DeiT-S. `imagenet_deit_tiny` and `imagenet_deit_base`
change only the model; `cifar10_vit_deit` is the same mixing at CPU scale.
"""

from cutmix_jax.config import files
from cutmix_jax.recipes import _deit


def get_config():
  config = _deit.with_deit_training(files.load('imagenet_resnet50.py', relative_to=__file__))
  config.data.interpolation = 'bicubic'
  config.data.rand_augment = 'rand-m9-mstd0.5-inc1'
  config.data.random_erasing = 0.25
  config.data.repeated_augmentation = 3
  config.model = 'deit_small'
  config.batch_size = 1024
  config.num_epochs = 300
  return config
