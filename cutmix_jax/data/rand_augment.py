"""timm's RandAugment (DeiT's `rand-m9-mstd0.5-inc1`) as pure, jittable ops on uint8 images.

Follows timm's `rand_augment_transform`: each image draws `num_layers` ops uniformly with
replacement from timm's list; each applies with probability `prob`, at a magnitude drawn per
application (`gauss(m, mstd)`, or `uniform(0, m)` at `mstd=inf`) and clipped to
`[0, magnitude_max]`; timm's level-to-argument functions turn it into the op's argument, with a
random sign where timm negates. Pixels follow PIL, which timm calls.

Every op of timm's lists is one of three kinds of map, and an op returns its `Stages`:
- a per-channel lookup table (AutoContrast, Equalize, Invert, Posterize, Solarize, SolarizeAdd:
  PIL's `ImageOps` and timm's SolarizeAdd table);
- a blend of the image with a degenerate one (Color, Contrast, Brightness, Sharpness: PIL's
  `ImageEnhance`, in `Image.blend`'s float32 arithmetic);
- an affine resampling (Rotate, ShearX/Y, TranslateX/YRel: PIL's `Image.transform`, which maps
  output to input coordinates, with the fill colour and nearest, bilinear or bicubic sampling).
The two stages an op does not set are identities (the identity table, factor 1, the identity
matrix: each is exact), so a layer runs one table, one blend and one resampling per image
whichever op it drew: under `vmap` a `lax.switch` computes every branch, and the branches only
build small tables, degenerates and matrices.

Differs from timm with Pillow 13 (the bench `bench/timm_rand_augment.py` measures it):
- Posterize to 0 bits (PosterizeIncreasing at magnitude 10, Posterize below 2.5) is black, the
  result of older Pillow's mask; Pillow 13's `ImageOps.posterize` raises there, so timm does.
- Geometric ops run in float32 where PIL uses float64: a bilinear or bicubic value whose float64
  value lies within float32 error of an integer truncates to the neighbouring integer (off by
  1, rare), and a nearest sample whose coordinate lies within float32 error of a pixel edge reads
  the neighbouring pixel.
- Arguments are computed in float32: at magnitudes with few binary digits (integers, halves,
  eighths) they are the float32 nearest timm's float64 value; elsewhere within 1e-7 of it,
  relative (4e-7 for the increasing enhance factors near 0.1, where 1 - 0.09 m cancels).
- Draws come from `jax.random`, not Python's `random`: the same distributions, other numbers.
- The interpolation is one (DeiT's bicubic), not timm's default random bilinear/bicubic per call;
  timm's other hparams are its defaults (`translate_pct` 0.45).
"""

import dataclasses
import functools
import math
import re
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

_IDENTITY_TABLE = np.arange(256, dtype=np.int32)
_IDENTITY_MATRIX = np.array([1, 0, 0, 0, 1, 0], np.float32)


@dataclasses.dataclass(frozen=True)
class RandAugmentSettings:
  """timm's RandAugment fields (defaults: DeiT's `rand-m9-mstd0.5-inc1`)."""

  num_layers: int = 2  # timm 'n': ops drawn per image, with replacement
  magnitude: float = 9.0  # timm 'm', on timm's 0-10 scale
  magnitude_std: float = 0.5  # timm 'mstd': gauss(m, mstd) per application; inf: uniform(0, m)
  magnitude_max: float = 10.0  # timm 'mmax': magnitudes are clipped to [0, mmax]
  prob: float = 0.5  # timm 'p': each drawn op applies with this probability
  increasing: bool = True  # timm 'inc': the *Increasing op set (INCREASING_OPS, else OPS)

  def __post_init__(self):
    if self.num_layers < 0:
      raise ValueError(f'RandAugment needs num_layers >= 0, got {self.num_layers}')


_SPEC_KEYS = {'n': int, 'm': int, 'mstd': float, 'mmax': int, 'p': float, 'inc': int}


def parse(spec: str) -> RandAugmentSettings:
  """Settings of timm's RandAugment string, e.g. `'rand-m9-mstd0.5-inc1'`.

  Fields as timm's `rand_augment_transform`, with timm's defaults where absent (`n2`, `m10`,
  `mstd0`, `mmax10`, `p0.5`, `inc0`): `mstd` above 100 means inf, `mmax0` means 10. Stricter than
  timm: a part without a number, an unknown or repeated key and a transform set (`t...`) raise.
  """
  head, *parts = spec.split('-')
  fields = {}
  for part in parts if head == 'rand' else [head]:
    key, number = (re.split(r'(\d.*)', part) + [''])[:2]
    try:
      if head != 'rand' or key not in _SPEC_KEYS or key in fields:
        raise ValueError
      fields[key] = _SPEC_KEYS[key](number)
    except ValueError:
      raise ValueError(
          f'bad RandAugment spec {spec!r} at {part!r}: want rand-<key><number>-..., each key at '
          f"most once, keys: {', '.join(_SPEC_KEYS)} (e.g. 'rand-m9-mstd0.5-inc1')"
      ) from None
  magnitude_std = fields.get('mstd', 0.0)
  return RandAugmentSettings(
      num_layers=fields.get('n', 2),
      magnitude=float(fields.get('m', 10)),
      magnitude_std=math.inf if magnitude_std > 100 else magnitude_std,
      magnitude_max=float(fields.get('mmax', 0) or 10),
      prob=fields.get('p', 0.5),
      increasing=bool(fields.get('inc', 0)),
  )


# Level to argument (timm's `_LEVEL_TO_ARG`): float32 magnitude on the 0-10 scale and a sign
# (+1 or -1, used where timm negates at random) to the op's argument. The magnitude is scaled
# by an integer first, so that for magnitudes with few binary digits (integers, halves, eighths)
# the numerator is exact and the one division rounds to the float32 nearest timm's float64 value.


def _level(function: Callable) -> Callable:
  """A level function, computed in float32 whatever the caller passes."""

  @functools.wraps(function)
  def level(magnitude, sign=1.0):
    return function(jnp.asarray(magnitude, jnp.float32), jnp.asarray(sign, jnp.float32))

  return level


def _divide(numerator, denominator: int) -> jax.Array:
  """`numerator / denominator` rounded once. XLA turns a division by a constant into a product
  with its reciprocal, rounded twice (0.1 becomes 0.099999994); the barrier hides the constant."""
  return numerator / jax.lax.optimization_barrier(jnp.float32(denominator))


@_level
def rotate_level(magnitude, sign):
  """Degrees, counter-clockwise: +-30 at magnitude 10."""
  return sign * (magnitude * 3)


@_level
def shear_level(magnitude, sign):
  """Shear factor: +-0.3 at magnitude 10."""
  return sign * _divide(magnitude * 3, 100)


@_level
def translate_rel_level(magnitude, sign):
  """Shift as a fraction of the side: +-0.45 at magnitude 10 (timm's `translate_pct`)."""
  return sign * _divide(magnitude * 9, 200)


@_level
def enhance_level(magnitude, sign):
  """Enhance factor in [0.1, 1.9], no sign."""
  del sign
  return _divide(magnitude * 18 + 10, 100)


@_level
def enhance_increasing_level(magnitude, sign):
  """Enhance factor 1 +- 0.9 at magnitude 10, at least 0.1."""
  return jnp.maximum(jnp.float32(0.1), _divide(100 + sign * (magnitude * 9), 100))


@_level
def posterize_level(magnitude, sign):
  """Bits kept, 0 to 4 (fewer at lower magnitudes)."""
  del sign
  return jnp.floor(_divide(magnitude * 4, 10)).astype(jnp.int32)


@_level
def posterize_increasing_level(magnitude, sign):
  """Bits kept, 4 down to 0 at magnitude 10."""
  return 4 - posterize_level(magnitude, sign)


@_level
def solarize_level(magnitude, sign):
  """Threshold, 0 to 256 (inverting more at lower magnitudes)."""
  del sign
  return jnp.minimum(256, jnp.floor(_divide(magnitude * 256, 10)).astype(jnp.int32))


@_level
def solarize_increasing_level(magnitude, sign):
  """Threshold, 256 down to 0 at magnitude 10."""
  return 256 - solarize_level(magnitude, sign)


@_level
def solarize_add_level(magnitude, sign):
  """Added to pixels under 128: 0 to 110, at most 128."""
  del sign
  return jnp.minimum(128, jnp.floor(_divide(magnitude * 110, 10)).astype(jnp.int32))


# Lookup tables: `(3, 256)` per channel or `(256,)` for all, int32 in [0, 255].


@functools.cache
def _autocontrast_undershoots() -> np.ndarray:
  """Sorted keys `lo * 65536 + hi * 256 + ix` where PIL's float64 `int(ix * scale + offset)`
  lands one under the exact `(ix - lo) * 255 // (hi - lo)` (12,094 of the 2.8M cases): the same
  float64 arithmetic as PIL's Python, run once with numpy."""
  keys = []
  ix = np.arange(256)
  for lo in range(255):
    hi = np.arange(lo + 1, 256)[:, None]
    scale = 255.0 / (hi - lo)
    pil = (ix * scale + -lo * scale).astype(np.int64)
    under = (pil < (ix - lo) * 255 // (hi - lo)) & (ix >= lo) & (ix <= hi)
    rows, cols = np.nonzero(under)
    keys.append(lo * 65536 + (rows + lo + 1) * 256 + cols)
  return np.concatenate(keys).astype(np.int32)


def auto_contrast_lut(image) -> jax.Array:
  """PIL's `ImageOps.autocontrast`: each channel's [min, max] stretched to [0, 255]."""
  lo = image.min(axis=(0, 1)).astype(jnp.int32)[:, None]
  hi = image.max(axis=(0, 1)).astype(jnp.int32)[:, None]
  ix = jnp.asarray(_IDENTITY_TABLE)
  exact = (ix - lo) * 255 // jnp.maximum(hi - lo, 1)
  undershoots = jnp.asarray(_autocontrast_undershoots())
  key = lo * 65536 + hi * 256 + ix
  found = undershoots[jnp.clip(jnp.searchsorted(undershoots, key), 0, undershoots.size - 1)]
  stretched = jnp.clip(exact - (found == key), 0, 255)
  return jnp.where(hi > lo, stretched, ix)


def equalize_lut(image) -> jax.Array:
  """PIL's `ImageOps.equalize`: each channel's histogram-equalizing table."""
  histogram = jnp.zeros((3, 256), jnp.int32).at[jnp.arange(3), image.reshape(-1, 3)].add(1)
  last = 255 - jnp.argmax(histogram[:, ::-1] > 0, axis=1)
  last_count = jnp.take_along_axis(histogram, last[:, None], axis=1)
  step = (histogram.sum(axis=1, keepdims=True) - last_count) // 255
  before = jnp.cumsum(histogram, axis=1) - histogram
  table = jnp.clip((step // 2 + before) // jnp.maximum(step, 1), 0, 255)
  flat = ((histogram > 0).sum(axis=1, keepdims=True) <= 1) | (step == 0)
  return jnp.where(flat, jnp.asarray(_IDENTITY_TABLE), table)


def invert_lut(image) -> jax.Array:
  """PIL's `ImageOps.invert` (the same for every image)."""
  del image
  return 255 - jnp.asarray(_IDENTITY_TABLE)


def posterize_lut(bits) -> jax.Array:
  """PIL's `ImageOps.posterize`: keep the `bits` high bits; 8 or more keep all, 0 or fewer none."""
  mask = (0xFF << jnp.clip(8 - bits, 0, 8)) & 0xFF
  return jnp.asarray(_IDENTITY_TABLE) & mask


def solarize_lut(threshold) -> jax.Array:
  """PIL's `ImageOps.solarize`: invert the values at or above `threshold`."""
  ix = jnp.asarray(_IDENTITY_TABLE)
  return jnp.where(ix < threshold, ix, 255 - ix)


def solarize_add_lut(add) -> jax.Array:
  """timm's `solarize_add`: `add` to the values under 128, saturating at 255."""
  ix = jnp.asarray(_IDENTITY_TABLE)
  return jnp.where(ix < 128, jnp.minimum(255, ix + add), ix)


# Degenerate images of the blends: `(H, W, 3)` uint8 of one image `(H, W, 3)` uint8.


def _luma(image) -> jax.Array:
  """PIL's `convert('L')`: fixed-point ITU-R 601-2 luma, int32 `(H, W)`."""
  rgb = image.astype(jnp.int32)
  return (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16


def grayscale(image) -> jax.Array:
  """ImageEnhance.Color's degenerate: the L image as RGB."""
  return jnp.broadcast_to(_luma(image)[..., None], image.shape).astype(jnp.uint8)


def mean_gray(image) -> jax.Array:
  """ImageEnhance.Contrast's degenerate: the mean of the L image, rounded half up, everywhere."""
  luma = _luma(image)
  total, count = luma.sum(), luma.size  # int32: images up to 8.4M pixels
  mean = total // count + (2 * (total % count) >= count)
  return jnp.full(image.shape, mean, jnp.uint8)


def black(image) -> jax.Array:
  """ImageEnhance.Brightness's degenerate."""
  return jnp.zeros_like(image)


def smooth(image) -> jax.Array:
  """ImageEnhance.Sharpness's degenerate: PIL's SMOOTH filter, 3x3 `[[1, 1, 1], [1, 5, 1],
  [1, 1, 1]] / 13` rounded to nearest (exact in integers: PIL's float sum is never within its
  error of a half), border pixels kept."""
  pixels = image.astype(jnp.int32)
  height, width, _ = image.shape
  window = lambda dy, dx: pixels[1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx]
  weighted = sum(window(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) + 4 * window(0, 0)
  return image.at[1:-1, 1:-1].set(((2 * weighted + 13) // 26).astype(jnp.uint8))


def _rounded_product(factor, difference) -> jax.Array:
  """`factor * difference` (float32; `|difference| <= 255` whole) rounded once, as PIL's C does.

  XLA fuses a product and the sum after it into an FMA (Pillow's x86-64 build does not), which
  skips this rounding and moves some blends across an integer. Split at 12 mantissa bits, both
  partial products are exact, so their sum is the product rounded once, fused or not.
  """
  bits = jax.lax.bitcast_convert_type(factor, jnp.uint32) & jnp.uint32(0xFFFFF000)
  high = jax.lax.bitcast_convert_type(bits, jnp.float32)
  return high * difference + (factor - high) * difference


def blend(degenerate, image, factor) -> jax.Array:
  """PIL's `Image.blend(degenerate, image, factor)` on uint8 `(..., 3)`: float32
  `degenerate + factor * (image - degenerate)`, clipped to [0, 255] and truncated."""
  start = degenerate.astype(jnp.float32)
  difference = image.astype(jnp.float32) - start
  value = start + _rounded_product(jnp.asarray(factor, jnp.float32), difference)
  return jnp.clip(value, 0, 255).astype(jnp.uint8)


# Affine matrices: PIL's `(a, b, c, d, e, f)`, which reads output pixel (x, y) from input
# (a x + b y + c, d x + e y + f), in pixel-centre coordinates; float32 `(6,)`.


def rotate_matrix(degrees, height, width) -> jax.Array:
  """PIL's `rotate(degrees)`: counter-clockwise about the image centre."""
  theta = jnp.deg2rad(jnp.asarray(degrees, jnp.float32))
  cos, sin = jnp.cos(theta), jnp.sin(theta)
  cx, cy = width / 2, height / 2
  return jnp.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy])


def shear_x_matrix(factor, height, width) -> jax.Array:
  """timm's `shear_x`: input x = x + factor * y."""
  del height, width
  return jnp.asarray(_IDENTITY_MATRIX).at[1].set(factor)


def shear_y_matrix(factor, height, width) -> jax.Array:
  """timm's `shear_y`: input y = factor * x + y."""
  del height, width
  return jnp.asarray(_IDENTITY_MATRIX).at[3].set(factor)


def translate_x_matrix(fraction, height, width) -> jax.Array:
  """timm's `translate_x_rel`: input x = x + fraction * width."""
  del height
  return jnp.asarray(_IDENTITY_MATRIX).at[2].set(fraction * width)


def translate_y_matrix(fraction, height, width) -> jax.Array:
  """timm's `translate_y_rel`: input y = y + fraction * height."""
  del width
  return jnp.asarray(_IDENTITY_MATRIX).at[5].set(fraction * height)


def _shifts(matrix, height: int, width: int):
  """The integer output grid `(H, W)` and PIL's source point of each pixel centre as the shift
  from it, float32 `(H, W)`: small for RandAugment's near-identity maps, so float32 keeps the
  fractions that decide the sampling (a shift of -8.9999998 stays apart from -9)."""
  y, x = jnp.mgrid[0:height, 0:width]
  a0, a1, a2, a3, a4, a5 = matrix
  xc, yc = x + 0.5, y + 0.5
  return x, y, (a0 - 1) * xc + a1 * yc + a2, a3 * xc + (a4 - 1) * yc + a5


def _nearest(image, matrix, fill) -> jax.Array:
  """PIL's nearest affine sampling: its scale path without rotation or shear (float, floor),
  else its 16.16 fixed-point path (exact here in int32, from float32 coefficients)."""
  height, width, _ = image.shape
  x, y, shift_x, shift_y = _shifts(matrix, height, width)
  a0, a1, a2, a3, a4, a5 = matrix
  fix = lambda v: jnp.floor(v * 65536 + 0.5).astype(jnp.int32)
  fixed_col = (fix(a2 + a0 / 2 + a1 / 2) + x * fix(a0) + y * fix(a1)) >> 16
  fixed_row = (fix(a5 + a3 / 2 + a4 / 2) + x * fix(a3) + y * fix(a4)) >> 16
  axis_aligned = (a1 == 0) & (a3 == 0)
  col = jnp.where(axis_aligned, x + jnp.floor(shift_x + 0.5).astype(jnp.int32), fixed_col)
  row = jnp.where(axis_aligned, y + jnp.floor(shift_y + 0.5).astype(jnp.int32), fixed_row)
  inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
  values = image[jnp.clip(row, 0, height - 1), jnp.clip(col, 0, width - 1)]
  return jnp.where(inside[..., None], values, fill)


def _linear(values, d) -> jax.Array:
  """PIL's BILINEAR of 2 taps at offset `d` from the first."""
  v1, v2 = values
  return v1 + (v2 - v1) * d


def _cubic(values, d) -> jax.Array:
  """PIL's transform BICUBIC of 4 taps at offset `d` from the second: the a = -1 cubic
  convolution (PIL's resize uses a = -0.5; its transform does not)."""
  v1, v2, v3, v4 = values
  return v2 + d * ((v3 - v1) + d * ((2 * (v1 - v2) + v3 - v4) + d * (-v1 + v2 - v3 + v4)))


def _filtered(image, matrix, fill, combine: Callable, taps: int) -> jax.Array:
  """PIL's filtered affine sampling: fill where the source point of an output pixel centre falls
  outside the input, else `taps` x `taps` neighbours (edges repeated) combined along x then y."""
  height, width, _ = image.shape
  x, y, shift_x, shift_y = _shifts(matrix, height, width)
  inside = (shift_x >= -(x + 0.5)) & (shift_x < width - (x + 0.5))
  inside &= (shift_y >= -(y + 0.5)) & (shift_y < height - (y + 0.5))
  whole_x, whole_y = jnp.floor(shift_x), jnp.floor(shift_y)
  first = x + whole_x.astype(jnp.int32) - (taps // 2 - 1)
  cols = [jnp.clip(first + k, 0, width - 1) for k in range(taps)]
  first = y + whole_y.astype(jnp.int32) - (taps // 2 - 1)
  rows = [jnp.clip(first + k, 0, height - 1) for k in range(taps)]
  dx, dy = (shift_x - whole_x)[..., None], (shift_y - whole_y)[..., None]
  pixel = lambda row, col: image[row, col].astype(jnp.float32)
  value = combine([combine([pixel(row, col) for col in cols], dx) for row in rows], dy)
  return jnp.where(inside[..., None], jnp.clip(value, 0, 255).astype(jnp.uint8), fill)


_SAMPLERS = {
    'nearest': _nearest,
    'bilinear': functools.partial(_filtered, combine=_linear, taps=2),
    'bicubic': functools.partial(_filtered, combine=_cubic, taps=4),
}


def resample(image, matrix, *, fill, interpolation: str) -> jax.Array:
  """PIL's `Image.transform(size, AFFINE, matrix, resample, fillcolor=fill)` of one image.

  Args:
    image: `(H, W, 3)` uint8.
    matrix: `(6,)` PIL affine coefficients (output to input).
    fill: `(3,)` uint8 colour where the source point falls outside the image.
    interpolation: 'nearest', 'bilinear' or 'bicubic' (static).

  Returns:
    `(H, W, 3)` uint8.
  """
  if interpolation not in _SAMPLERS:
    raise ValueError(f'unknown interpolation {interpolation!r}; valid: {", ".join(_SAMPLERS)}')
  return _SAMPLERS[interpolation](image, matrix, jnp.asarray(fill, jnp.uint8))


class Stages(NamedTuple):
  """What an op does to one image `(H, W, 3)`: a table, then a blend, then a resampling."""

  table: jax.Array  # (3, 256) uint8 lookup table per channel
  degenerate: jax.Array  # (H, W, 3) uint8 image the blend starts from
  factor: jax.Array  # () float32 blend factor; 1 keeps the image
  matrix: jax.Array  # (6,) float32 PIL affine matrix


class Op(NamedTuple):
  """One of timm's ops: the stage it sets, its argument, and how it builds that stage.

  `build` of a 'table' op maps its argument (or, without one, the image) to the lookup table; of
  a 'blend' op, the image to the degenerate (the argument is the factor); of an 'affine' op,
  `(argument, height, width)` to the matrix.
  """

  kind: str  # 'table', 'blend' or 'affine'
  level: Optional[Callable]  # (magnitude, sign) -> argument, timm's; None: the op takes none
  build: Callable


def op_stages(op: Op, image, argument=None) -> Stages:
  """The stages of `op` at `argument` (timm's argument, e.g. degrees) on one image `(H, W, 3)`."""
  height, width, _ = image.shape
  table, degenerate = jnp.asarray(_IDENTITY_TABLE), image
  factor, matrix = jnp.float32(1), jnp.asarray(_IDENTITY_MATRIX)
  if op.kind == 'table':
    table = op.build(image if op.level is None else argument)
  elif op.kind == 'blend':
    degenerate, factor = op.build(image), jnp.asarray(argument, jnp.float32)
  else:
    matrix = op.build(argument, height, width)
  table = jnp.broadcast_to(table, (3, 256)).astype(jnp.uint8)
  return Stages(table, degenerate, factor, matrix.astype(jnp.float32))


def apply_stages(image, stages: Stages, *, fill, interpolation: str) -> jax.Array:
  """One image `(H, W, 3)` uint8 through the table, the blend and the resampling of `stages`."""
  image = stages.table[jnp.arange(3), image.astype(jnp.int32)]
  image = blend(stages.degenerate, image, stages.factor)
  return resample(image, stages.matrix, fill=fill, interpolation=interpolation)


def apply_op(op: Op, image, argument=None, *, fill, interpolation: str) -> jax.Array:
  """`op` at timm's `argument` on one uint8 image `(H, W, 3)`, as timm's op function on PIL."""
  stages = op_stages(op, image, argument)
  return apply_stages(image, stages, fill=fill, interpolation=interpolation)


OPS = {  # timm's _RAND_TRANSFORMS (inc0), in its order
    'AutoContrast': Op('table', None, auto_contrast_lut),
    'Equalize': Op('table', None, equalize_lut),
    'Invert': Op('table', None, invert_lut),
    'Rotate': Op('affine', rotate_level, rotate_matrix),
    'Posterize': Op('table', posterize_level, posterize_lut),
    'Solarize': Op('table', solarize_level, solarize_lut),
    'SolarizeAdd': Op('table', solarize_add_level, solarize_add_lut),
    'Color': Op('blend', enhance_level, grayscale),
    'Contrast': Op('blend', enhance_level, mean_gray),
    'Brightness': Op('blend', enhance_level, black),
    'Sharpness': Op('blend', enhance_level, smooth),
    'ShearX': Op('affine', shear_level, shear_x_matrix),
    'ShearY': Op('affine', shear_level, shear_y_matrix),
    'TranslateXRel': Op('affine', translate_rel_level, translate_x_matrix),
    'TranslateYRel': Op('affine', translate_rel_level, translate_y_matrix),
}

INCREASING_OPS = {  # timm's _RAND_INCREASING_TRANSFORMS (inc1), in its order
    'AutoContrast': OPS['AutoContrast'],
    'Equalize': OPS['Equalize'],
    'Invert': OPS['Invert'],
    'Rotate': OPS['Rotate'],
    'PosterizeIncreasing': Op('table', posterize_increasing_level, posterize_lut),
    'SolarizeIncreasing': Op('table', solarize_increasing_level, solarize_lut),
    'SolarizeAdd': OPS['SolarizeAdd'],
    'ColorIncreasing': Op('blend', enhance_increasing_level, grayscale),
    'ContrastIncreasing': Op('blend', enhance_increasing_level, mean_gray),
    'BrightnessIncreasing': Op('blend', enhance_increasing_level, black),
    'SharpnessIncreasing': Op('blend', enhance_increasing_level, smooth),
    'ShearX': OPS['ShearX'],
    'ShearY': OPS['ShearY'],
    'TranslateXRel': OPS['TranslateXRel'],
    'TranslateYRel': OPS['TranslateYRel'],
}


def ops_of(settings: RandAugmentSettings) -> dict:
  """The op table `settings` draws from: INCREASING_OPS or OPS."""
  return INCREASING_OPS if settings.increasing else OPS


class Draws(NamedTuple):
  """The random choices of a batch, each `(B, num_layers)`."""

  op: jax.Array  # int32 index into ops_of(settings)
  applied: jax.Array  # bool: the op runs (probability `prob`)
  magnitude: jax.Array  # float32 in [0, magnitude_max]
  sign: jax.Array  # float32 +1 or -1, each with probability 1/2


def sample_magnitudes(rng, shape, settings: RandAugmentSettings) -> jax.Array:
  """timm's magnitude per op application: gauss(m, mstd), uniform(0, m) at mstd = inf, or m at
  mstd <= 0; clipped to [0, magnitude_max]. float32 of `shape`."""
  mean, std = settings.magnitude, settings.magnitude_std
  if std == math.inf:
    magnitude = jax.random.uniform(rng, shape, maxval=mean)
  elif std > 0:
    magnitude = mean + std * jax.random.normal(rng, shape)
  else:
    magnitude = jnp.full(shape, mean, jnp.float32)
  return jnp.clip(magnitude, 0, settings.magnitude_max)


def draw(rng, batch: int, settings: RandAugmentSettings) -> Draws:
  """Ops, apply coins, magnitudes and signs of `batch` images, independent per image and layer."""
  shape = (batch, settings.num_layers)
  op_key, apply_key, magnitude_key, sign_key = jax.random.split(rng, 4)
  return Draws(
      op=jax.random.randint(op_key, shape, 0, len(ops_of(settings))),
      applied=jax.random.uniform(apply_key, shape) < settings.prob,
      magnitude=sample_magnitudes(magnitude_key, shape, settings),
      sign=jnp.where(jax.random.bernoulli(sign_key, 0.5, shape), -1.0, 1.0),
  )


def _augment_one(image, draws: Draws, *, ops: tuple, fill, interpolation: str) -> jax.Array:
  """One image `(H, W, 3)` through its layers, in order; `draws` fields `(num_layers,)`."""
  branches = [
      lambda image, magnitude, sign, op=op: op_stages(
          op, image, None if op.level is None else op.level(magnitude, sign)
      )
      for op in ops
  ]

  def layer(image, drawn: Draws):
    stages = jax.lax.switch(drawn.op, branches, image, drawn.magnitude, drawn.sign)
    changed = apply_stages(image, stages, fill=fill, interpolation=interpolation)
    return jnp.where(drawn.applied, changed, image), None

  return jax.lax.scan(layer, image, draws)[0]


def rand_augment(
    rng, images, settings: RandAugmentSettings, *, fill, interpolation: str = 'bicubic'
) -> jax.Array:
  """timm's RandAugment of a batch, each image with its own draws from `rng`.

  Args:
    rng: a `jax.random` key.
    images: `(B, H, W, 3)` uint8.
    settings: the RandAugment fields (static).
    fill: `(3,)` uint8 colour of the pixels geometric ops uncover (DeiT: the dataset mean
      times 255, rounded).
    interpolation: 'bicubic', 'bilinear' or 'nearest' for the geometric ops (static).

  Returns:
    `(B, H, W, 3)` uint8.
  """
  draws = draw(rng, images.shape[0], settings)
  augment = functools.partial(
      _augment_one,
      ops=tuple(ops_of(settings).values()),
      fill=jnp.asarray(fill, jnp.uint8),
      interpolation=interpolation,
  )
  return jax.vmap(augment)(images, draws)
