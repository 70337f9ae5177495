"""The paper's ImageNet recipe: ResNet-50, batch 256, lr 0.1, 300 epochs, x0.1 at 75/150/225.

CutMix with beta 1 and cutmix_prob 1.0 (paper Table 3: 21.40% top-1). Baselines:
--config.mix.method=none|mixup, and the paper's Cutout of 112x112 on ImageNet:
--config.mix.method=cutout --config.mix.cutout.size=112 (a method's own section is read only when
it is the method, so this recipe leaves Cutout's at its default). With another global batch
size the lr follows the linear scaling rule from the reference batch 256.
"""

from cutmix_jax.config import files


def get_config():
  config = files.load('default.py', relative_to=__file__)
  config.data.source = 'tfds:imagenet2012'  # manual download into data.tfds_dir (TFDS docs)
  config.data.image_size = 224
  config.model = 'resnet50'
  config.dtype = 'bfloat16'
  config.mix.method = 'cutmix'
  config.mix.alpha = 1.0
  config.mix.prob = 1.0
  # Partners within each device's share: gathering a 224 px batch on every device made the op
  # 23x slower on 8 host devices (bench/mixing.py: 484 vs 21 ms for a global batch of 256), and
  # the cost grows with the device count; 32 images a device keep self-pairs rare (1 in 32).
  config.mix.partners = 'device'
  # BatchNorm by each device's share, as the official code's nn.DataParallel (4 GPUs: 64 images).
  config.batch_norm = 'device'
  config.batch_size = 256
  config.eval_batch_size = 1024
  config.num_epochs = 300
  config.optimizer.learning_rate = 0.1
  config.optimizer.reference_batch_size = 256  # linear scaling rule for other batch sizes
  config.optimizer.decay_epochs = (75, 150, 225)
  config.eval_every_epochs = 1
  config.log_every_steps = 200
  config.checkpoint_every_steps = 5000
  return config
