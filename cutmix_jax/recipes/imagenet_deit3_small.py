"""DeiT III's ViT-S on ImageNet-1k (Touvron et al., 2022): 400 epochs at batch 2048.

DeiT III's command for ViT-S: LAMB (apex's FusedLAMB) at lr 4e-3, not scaled with the batch,
weight decay 0.03, a cosine schedule with 5 warm-up epochs; binary cross-entropy on the mixed
targets binarized at 0, no label smoothing; CutMix (Beta 1) or, for half of the batches, Mixup
(Beta 0.8); 3-Augment (one of grayscale, solarization and Gaussian blur, then colour jitter 0.3)
after the random resized crop and flip, no RandAugment nor random erasing; repeated augmentation 3;
no drop path for ViT-S; bicubic resizes; the eval crop the whole shorter side (crop ratio 1.0).
The model has LayerScale and no position embedding for the class token (`deit3_small`). DeiT
III reports 81.4 % top-1 for this run (its Table 1, 400 epochs).
"""

import ml_collections

from cutmix_jax.config import files


def get_config():
  config = files.load('imagenet_deit_small.py', relative_to=__file__)
  config.data.rand_augment, config.data.random_erasing = '', 0.0
  config.data.three_augment = True
  config.data.eval_crop_fraction = 1.0
  config.model = 'deit3_small'
  config.model_settings = ml_collections.ConfigDict()
  config.label_smoothing = 0.0
  config.loss, config.bce_target_threshold = 'binary_cross_entropy', 0.0
  config.batch_size = 2048
  config.optimizer.name = 'lamb'
  config.optimizer.learning_rate, config.optimizer.reference_batch_size = 4e-3, 0
  config.optimizer.weight_decay = 0.03
  config.num_epochs = 400
  return config
