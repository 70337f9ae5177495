"""Default config: CutMix on 1,000 real CIFAR-10 images with `resnet_cifar20`, on 2 CPU cores.

python train.py                                   # this file, workdir runs/default
python train.py --config.mix.method=none --workdir=runs/baseline   # the baseline

The built-in `cifar10_mini` set (shipped with the package, no download, no TensorFlow): the first
100 training images of each CIFAR-10 class, 90 epochs, evaluated on the last 500 of each class
(5,000) every 30 epochs. A long lr-0.1 phase (60 epochs) lets the baseline memorize its 1,000
images after the decay, which is where CutMix, a regularizer, gains. The whole CIFAR-10 (and its
test split): --config.data.source=tfds:cifar10. README.md, "Train", has the figures.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()

  # --- Data (the fields of cutmix_jax.data.DataConfig) -----------------------------------------
  config.data = ml_collections.ConfigDict()
  config.data.source = 'cifar10_mini'  # cifar10_mini | shapes | textures | folder:PATH |
  # tfds:NAME[:VERSION]
  config.data.tfds_dir = ''  # TFDS data_dir ('' = TFDS default)
  config.data.holdout_per_class = 0  # last N train images per class validate (folders need it
  # without val/ or test/)
  config.data.train_per_class = 0  # if > 0, train on the first N train images per class only
  config.data.image_size = 224  # crop size of the large-image (tf.data) pipeline
  config.data.synthetic_num_train = 10000  # size of a generated (shapes, textures) train split
  config.data.synthetic_num_test = 2000  # size of a generated test split

  # --- Model ------------------------------------------------------------------------------------
  config.model = 'resnet_cifar20'  # a name of cutmix_jax.models.get_model
  config.dtype = 'bfloat16'  # compute dtype: float32 | bfloat16 (params stay float32)

  # --- Mixing (the fields of cutmix_jax.MixConfig) ----------------------------------------------
  config.mix = ml_collections.ConfigDict()
  config.mix.method = 'cutmix'  # none | cutmix | mixup | cutout
  config.mix.alpha = 1.0  # Beta(alpha, alpha) of CutMix / Mixup (the paper's beta)
  config.mix.prob = 0.5  # probability that a batch is mixed (official cutmix_prob)
  config.mix.switch_prob = 0.0  # cutmix: probability of Mixup instead for a mixed batch
  config.mix.mixup_alpha = 0.0  # alpha of those Mixup batches (0: alpha)
  config.mix.per_example = False  # one lam and box per image instead of per batch
  config.mix.cutmix_minmax = ()  # timm's box sides (low, high) in image fractions; (): official
  config.mix.correct_lam = True  # label weight = exact box area (official); False: sampled lam
  config.mix.cutout_size = 16  # side of the Cutout square, pixels
  config.mix.partners = 'global'  # global: one draw for the global batch (the paper; costs
  # +1.2 ms a step for a 32 px batch of 128 on 8 host devices) | device (within each device)
  config.mix.level = 'input'  # input | feature (CutMix of a random stage's feature maps)
  config.mix.off_after_epoch = 0  # no mixing from this epoch on (0: never)
  config.label_smoothing = 0.0  # label smoothing, applied before mixing

  # --- Optimisation -----------------------------------------------------------------------------
  config.batch_size = 128  # global batch (all devices and hosts)
  config.eval_batch_size = 512  # global eval batch; the last one is padded and masked
  config.num_epochs = 90  # training length in epochs
  config.num_train_steps = -1  # if > 0, stop after this many steps (overrides num_epochs)
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.learning_rate = 0.1  # peak lr (before the linear scaling rule)
  config.optimizer.reference_batch_size = 0  # lr *= batch_size / this; 0 = no scaling
  config.optimizer.momentum = 0.9  # SGD momentum
  config.optimizer.nesterov = True  # Nesterov momentum, as the official code
  config.optimizer.weight_decay = 1e-4  # coupled L2 on every parameter
  config.optimizer.warmup_epochs = 0.0  # linear warm-up length in epochs
  config.optimizer.decay_epochs = (60, 75)  # lr *= decay_factor at these epochs
  config.optimizer.decay_factor = 0.1  # step decay factor

  # --- Run --------------------------------------------------------------------------------------
  config.seed = 0  # data order, init and every step key derive from it
  config.log_every_steps = 25  # metrics read back from the devices this often
  config.eval_every_epochs = 30  # evaluate and save every N epochs (and after the last)
  config.checkpoint_every_steps = 0  # extra checkpoints every N steps (0: once per epoch only)
  config.keep_checkpoints = 2  # last k checkpoints kept (the best is kept too)
  config.progress_bar = True  # tqdm bar per epoch
  return config
