"""Default config: CutMix on 1,000 real CIFAR-10 images with `resnet_cifar20`, on 2 CPU cores.

python train.py                                   # this recipe, workdir runs/default
python train.py --config.mix.method=none --workdir=runs/baseline   # the baseline

The built-in `cifar10_mini` set (shipped with the package, no download, no TensorFlow): the first
100 training images of each CIFAR-10 class, 90 epochs, evaluated on the last 500 of each class
(5,000) every 30 epochs. A long lr-0.1 phase (60 epochs) lets the baseline memorize its 1,000
images after the decay, which is where CutMix, a regularizer, gains. The whole CIFAR-10 (and its
test split): --config.data.source=tfds:cifar10. docs/RESULTS.md has the figures.

The sections `data`, `mix` and `optimizer` are the fields of `cutmix_jax.data.DataConfig`,
`cutmix_jax.MixConfig` and `cutmix_jax.training.optim.OptimizerConfig` with their defaults (their
docstrings say what each field does); `mix` holds a section per method besides (`mix.cutmix.mode`,
`mix.fmix.decay_power`, ...: `cutmix_jax.ops.registry`). This recipe changes only the fields it
names.
"""

import ml_collections

from cutmix_jax import data
from cutmix_jax.config import files
from cutmix_jax.ops import mix_config
from cutmix_jax.training import optim


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()

  # --- Data: cifar10_mini | shapes | textures | folder:PATH | tfds:NAME[:VERSION] -------------
  config.data = files.section(data.DataConfig(source='cifar10_mini'))

  # --- Model ------------------------------------------------------------------------------------
  config.model = 'resnet_cifar20'  # a name of cutmix_jax.models.get_model
  # The model's own settings in place of the named model's (cutmix_jax.models.settings_of),
  # e.g. --config.model_settings="{'widths': (32, 64, 128)}"; empty: the model as it is named.
  config.model_settings = ml_collections.ConfigDict()
  config.dtype = 'bfloat16'  # compute dtype: float32 | bfloat16 (params stay float32)

  # --- Mixing: CutMix with beta 1, applied to half the batches (the paper's CIFAR cutmix_prob) --
  config.mix = files.section(mix_config.MixConfig(method='cutmix', alpha=1.0, prob=0.5))
  config.label_smoothing = 0.0  # label smoothing, applied before mixing
  # The train loss: softmax_cross_entropy | binary_cross_entropy (one sigmoid per class, DeiT III);
  # bce_target_threshold: targets above it count as 1 (DeiT III: 0.0); -1: soft targets as they are.
  config.loss = 'softmax_cross_entropy'
  config.bce_target_threshold = -1.0

  # --- Optimisation -----------------------------------------------------------------------------
  config.batch_size = 128  # global batch (all devices and hosts)
  config.eval_batch_size = 512  # global eval batch; the last one is padded and masked
  config.num_epochs = 90  # training length in epochs
  config.num_train_steps = -1  # if > 0, stop after this many steps (overrides num_epochs)
  # Nesterov SGD at lr 0.1, weight decay 1e-4; lr x0.1 at epochs 60 and 75.
  config.optimizer = files.section(optim.OptimizerConfig(decay_epochs=(60, 75)))

  # --- Run --------------------------------------------------------------------------------------
  config.seed = 0  # data order, init and every step key derive from it
  config.log_every_steps = 25  # metrics read back from the devices this often
  config.eval_every_epochs = 30  # evaluate and save every N epochs (and after the last)
  config.checkpoint_every_steps = 0  # extra checkpoints every N steps (0: once per epoch only)
  config.keep_checkpoints = 2  # last k checkpoints kept (the best is kept too)
  config.progress_bar = True  # tqdm bar per epoch
  # (START, STOP): a jax.profiler trace of steps START..STOP-1 in WORKDIR/profile, e.g.
  # --config.profile_steps=10,20; (): none.
  config.profile_steps = ()
  # How the per-device step spans the devices: 'mesh' (jax.jit over a device mesh, global
  # arrays) or 'pmap' (jax.pmap, kept as an equal option: the same run, bit for bit).
  config.parallelism = 'mesh'
  # Whose statistics training BatchNorm normalizes by: 'global', the whole batch's (averaged over
  # the devices at every layer: the same training on 1 or N devices, so that train.py may split
  # the batch over 2 CPU devices for speed), or 'device', each device's share's (the official
  # code's nn.DataParallel; the paper recipes).
  config.batch_norm = 'global'
  return config
