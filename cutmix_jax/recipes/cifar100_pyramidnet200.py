"""The paper's CIFAR-100 recipe: PyramidNet-200 (alpha 240), batch 64, lr 0.25, 300 epochs.

CutMix with beta 1 and cutmix_prob 0.5; lr x0.1 at epochs 150 and 225 (paper Table 5: 14.47%).
Baselines: --config.mix.method=none|mixup|cutout (Cutout 16 px on CIFAR).
"""

from cutmix_jax.config import files


def get_config():
  config = files.load('default.py', relative_to=__file__)
  config.data.source = 'tfds:cifar100'
  config.model = 'pyramidnet200'  # alpha 240, bottleneck, 26.8 M parameters
  config.dtype = 'bfloat16'  # bf16 compute on GPU/TPU; params stay float32
  config.mix.method = 'cutmix'
  config.mix.alpha = 1.0  # the paper's beta
  config.mix.prob = 0.5  # the paper's cutmix_prob on CIFAR
  config.batch_size = 64  # the paper's batch (on 2 GPUs)
  config.batch_norm = 'device'  # each device's share, as nn.DataParallel (2 GPUs: 32 images)
  config.eval_batch_size = 1024  # eval batch (divisible by the device count; padded and masked)
  config.num_epochs = 300
  config.optimizer.learning_rate = 0.25
  config.optimizer.decay_epochs = (150, 225)
  config.eval_every_epochs = 1
  config.log_every_steps = 100
  return config
