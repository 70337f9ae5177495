"""cutmix_jax: CutMix (Yun et al., ICCV 2019) and its family in JAX, with Mixup and Cutout.

The mixing ops are pure functions of an explicit `jax.random` key and work under `jax.jit` (also
over a sharded mesh), `jax.vmap`, `jax.pmap` and `jax.shard_map`. Each returns
`(images, labels, *extras)`. They are built on one primitive, `mix_by_mask` (the partner's pixels
where a mask says, the label by the mask's mean), with the partners from `draw_partners`: a new
method is a mask. Importing this package does not import TensorFlow.
"""

from cutmix_jax.ops.baselines import cutout
from cutmix_jax.ops.baselines import draw_cutout
from cutmix_jax.ops.baselines import draw_mixup
from cutmix_jax.ops.baselines import mixup
from cutmix_jax.ops.boxes import box_area_ratio
from cutmix_jax.ops.boxes import box_mask
from cutmix_jax.ops.boxes import sample_box
from cutmix_jax.ops.cutmix import CutMixDraw
from cutmix_jax.ops.cutmix import cutmix
from cutmix_jax.ops.cutmix import draw_cutmix
from cutmix_jax.ops.detection import Boxes
from cutmix_jax.ops.detection import Keypoints
from cutmix_jax.ops.dispatch import mix_batch
from cutmix_jax.ops.fourier_mix import draw_fmix
from cutmix_jax.ops.fourier_mix import fmix
from cutmix_jax.ops.fourier_mix import fmix_mask
from cutmix_jax.ops.labels import one_hot
from cutmix_jax.ops.mask_mix import MixDraw
from cutmix_jax.ops.mask_mix import mix_by_mask
from cutmix_jax.ops.mix_config import MixConfig
from cutmix_jax.ops.mixer import Mixer
from cutmix_jax.ops.partners import PARTNERS
from cutmix_jax.ops.partners import Pairing
from cutmix_jax.ops.partners import draw_partners
from cutmix_jax.ops.registry import METHODS
from cutmix_jax.ops.registry import Method
from cutmix_jax.ops.registry import get as get_method
from cutmix_jax.ops.registry import register_method
from cutmix_jax.ops.resize_mix import draw_resizemix
from cutmix_jax.ops.resize_mix import resizemix
from cutmix_jax.ops.saliency_mix import draw_saliencymix
from cutmix_jax.ops.saliency_mix import saliency_map
from cutmix_jax.ops.saliency_mix import saliencymix

__all__ = [
    'Boxes',
    'CutMixDraw',
    'Keypoints',
    'METHODS',
    'MixConfig',
    'Method',
    'MixDraw',
    'Mixer',
    'PARTNERS',
    'Pairing',
    'box_area_ratio',
    'box_mask',
    'cutmix',
    'cutout',
    'draw_cutmix',
    'draw_cutout',
    'draw_fmix',
    'draw_mixup',
    'draw_partners',
    'draw_resizemix',
    'draw_saliencymix',
    'fmix',
    'fmix_mask',
    'get_method',
    'mix_batch',
    'mix_by_mask',
    'mixup',
    'one_hot',
    'register_method',
    'resizemix',
    'saliency_map',
    'saliencymix',
    'sample_box',
]
__version__ = '0.1.0'
