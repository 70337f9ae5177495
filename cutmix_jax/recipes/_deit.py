"""DeiT's training settings (Touvron et al., 2021), shared by the recipes that train a ViT as
DeiT does: its mixing, label smoothing, drop path and optimiser. Not a recipe itself."""

import ml_collections


def with_deit_training(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`config` with DeiT's mixing, smoothing, drop path 0.1 and AdamW on a cosine schedule."""
  config.model_settings = ml_collections.ConfigDict({'drop_path': 0.1})
  # CutMix (Beta 1) or, for half of the batches, Mixup (Beta 0.8): timm's switch_prob 0.5.
  config.mix.method, config.mix.alpha, config.mix.prob = 'cutmix', 1.0, 1.0
  config.mix.cutmix.mixup_prob, config.mix.cutmix.mixup_alpha = 0.5, 0.8
  config.label_smoothing = 0.1
  config.optimizer.name, config.optimizer.schedule = 'adamw', 'cosine'
  config.optimizer.learning_rate, config.optimizer.reference_batch_size = 5e-4, 512
  config.optimizer.weight_decay, config.optimizer.warmup_epochs = 0.05, 5
  config.optimizer.decay_epochs = ()
  config.optimizer.min_learning_rate = 1e-5
  return config
