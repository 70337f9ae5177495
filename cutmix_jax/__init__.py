"""cutmix_jax: CutMix (Yun et al., ICCV 2019) in JAX, with Mixup and Cutout baselines.

The mixing ops are pure functions of an explicit `jax.random` key and work under `jax.jit`,
`jax.vmap` and `jax.pmap`. Importing this package does not import TensorFlow.
"""

from cutmix_jax.mixing import METHODS
from cutmix_jax.mixing import MixConfig
from cutmix_jax.mixing import box_mask
from cutmix_jax.mixing import cutmix
from cutmix_jax.mixing import cutout
from cutmix_jax.mixing import mix_batch
from cutmix_jax.mixing import mixup
from cutmix_jax.mixing import one_hot
from cutmix_jax.mixing import sample_box

__all__ = [
    'METHODS',
    'MixConfig',
    'box_mask',
    'cutmix',
    'cutout',
    'mix_batch',
    'mixup',
    'one_hot',
    'sample_box',
]
__version__ = '0.1.0'
