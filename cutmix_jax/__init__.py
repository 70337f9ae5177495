"""cutmix_jax: CutMix (Yun et al., ICCV 2019) in JAX, with Mixup and Cutout baselines.

The mixing ops are pure functions of an explicit `jax.random` key and work under `jax.jit` (also
over a sharded mesh), `jax.vmap`, `jax.pmap` and `jax.shard_map`. Importing this package does not
import TensorFlow.
"""

from cutmix_jax.boxes import box_area_ratio
from cutmix_jax.boxes import box_mask
from cutmix_jax.boxes import sample_box
from cutmix_jax.mixing import METHODS
from cutmix_jax.mixing import MixConfig
from cutmix_jax.mixing import MixInfo
from cutmix_jax.mixing import cutmix
from cutmix_jax.mixing import cutout
from cutmix_jax.mixing import mix_batch
from cutmix_jax.mixing import mixup
from cutmix_jax.mixing import one_hot
from cutmix_jax.partners import PARTNERS

__all__ = [
    'METHODS',
    'MixConfig',
    'MixInfo',
    'PARTNERS',
    'box_area_ratio',
    'box_mask',
    'cutmix',
    'cutout',
    'mix_batch',
    'mixup',
    'one_hot',
    'sample_box',
]
__version__ = '0.1.0'
