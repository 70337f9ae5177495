"""DeiT's mixing and optimiser on a small ViT for 32 x 32 images (`vit_cifar`), at CPU scale.

DeiT (Touvron et al., 2021) trains every ViT with Mixup 0.8 and CutMix 1.0 switched per batch
(half each), label smoothing 0.1, AdamW (lr 5e-4 x batch/512, weight decay 0.05) on a cosine
schedule with 5 warm-up epochs, and drop path 0.1. This recipe keeps those on the built-in real
CIFAR-10 subset; DeiT's RandAugment, random erasing and repeated augmentation are not here yet
(the default flip-and-crop augmentation runs instead). docs/RESULTS.md has the figures.
"""

import ml_collections

from cutmix_jax.config import files


def get_config():
  config = files.load('default.py', relative_to=__file__)
  config.model = 'vit_cifar'
  config.model_settings = ml_collections.ConfigDict({'drop_path': 0.1})
  config.dtype = 'float32'
  # CutMix (Beta 1) or, for half of the batches, Mixup (Beta 0.8): timm's switch_prob 0.5.
  config.mix.method, config.mix.alpha, config.mix.prob = 'cutmix', 1.0, 1.0
  config.mix.cutmix.mixup_prob, config.mix.cutmix.mixup_alpha = 0.5, 0.8
  config.label_smoothing = 0.1
  config.optimizer.name, config.optimizer.schedule = 'adamw', 'cosine'
  config.optimizer.learning_rate, config.optimizer.reference_batch_size = 5e-4, 512
  config.optimizer.weight_decay, config.optimizer.warmup_epochs = 0.05, 5
  config.optimizer.decay_epochs = ()
  config.optimizer.min_learning_rate = 1e-5
  config.num_epochs = 100
  config.eval_every_epochs = 10
  return config
