"""timm's RandAugment on device (`cutmix_jax.data.rand_augment`) against PIL, which timm calls.

Pointwise, table and blend ops are bit-exact with PIL (Pillow's x86-64 float32 blend included);
geometric ops are exact with nearest sampling and within 1 (on under 5% of pixels) with
bilinear and bicubic, where PIL samples in float64 and we in float32.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from PIL import ImageEnhance
from PIL import ImageOps
import pytest

from cutmix_jax.data import rand_augment as ra

FILL = (124, 116, 104)
RESAMPLE = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}
ALL_OPS = {**ra.OPS, **ra.INCREASING_OPS}


def _images(height=20, width=26) -> np.ndarray:
  """uint8 `(3, H, W, 3)`: noise, gradients, and narrow ranges (PIL's autocontrast maps the
  top of [0, 25] to 254, not 255)."""
  noise = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
  y, x = np.mgrid[0:height, 0:width]
  gradients = np.stack([x * 9, y * 11, (x + y) * 5 + 20], -1).clip(0, 255).astype(np.uint8)
  narrow = np.stack([x, y + 3, (x * y) % 26], -1).astype(np.uint8)
  return np.stack([noise, gradients, narrow])


def _pil_solarize_add(image, add):
  return image.point([min(255, i + add) if i < 128 else i for i in range(256)] * 3)


def _pil_posterize(image, bits):
  """0 bits: black, older Pillow's mask (Pillow 13 raises, and timm with it)."""
  if bits >= 8:
    return image
  return ImageOps.posterize(image, bits) if bits > 0 else Image.new('RGB', image.size)


def _pil_affine(matrix):
  return lambda image, argument, resample: image.transform(
      image.size, Image.AFFINE, matrix(image, argument), resample, fillcolor=FILL
  )


def _float32(value) -> float:
  return float(np.float32(value))


# timm's op functions on PIL, by our op names; the translations get the shift in pixels as our
# op computes it (the float32 fraction times the side, in float32).
PIL_OPS = {
    'AutoContrast': lambda image, _: ImageOps.autocontrast(image),
    'Equalize': lambda image, _: ImageOps.equalize(image),
    'Invert': lambda image, _: ImageOps.invert(image),
    'Posterize': _pil_posterize,
    'Solarize': ImageOps.solarize,
    'SolarizeAdd': _pil_solarize_add,
    'Color': lambda image, factor: ImageEnhance.Color(image).enhance(factor),
    'Contrast': lambda image, factor: ImageEnhance.Contrast(image).enhance(factor),
    'Brightness': lambda image, factor: ImageEnhance.Brightness(image).enhance(factor),
    'Sharpness': lambda image, factor: ImageEnhance.Sharpness(image).enhance(factor),
    'Rotate': lambda image, degrees, resample: image.rotate(degrees, resample, fillcolor=FILL),
    'ShearX': _pil_affine(lambda image, factor: (1, factor, 0, 0, 1, 0)),
    'ShearY': _pil_affine(lambda image, factor: (1, 0, 0, factor, 1, 0)),
    'TranslateXRel': _pil_affine(
        lambda image, f: (1, 0, _float32(np.float32(f) * image.width), 0, 1, 0)
    ),
    'TranslateYRel': _pil_affine(
        lambda image, f: (1, 0, 0, 0, 1, _float32(np.float32(f) * image.height))
    ),
}
for _name in ('Posterize', 'Solarize', 'Color', 'Contrast', 'Brightness', 'Sharpness'):
  PIL_OPS[f'{_name}Increasing'] = PIL_OPS[_name]


def _pil(name, image, argument, interpolation):
  """timm's op `name` at `argument` on a uint8 array, through PIL."""
  extra = (RESAMPLE[interpolation],) if ALL_OPS[name].kind == 'affine' else ()
  return np.asarray(PIL_OPS[name](Image.fromarray(image), argument, *extra))


@functools.cache
def _batched_op(name, interpolation):
  """Ours: `(arguments (A,), images (N, H, W, 3)) -> (A, N, H, W, 3)`, compiled once."""
  apply = functools.partial(ra.apply_op, ALL_OPS[name], fill=FILL, interpolation=interpolation)
  over_images = jax.vmap(lambda argument, image: apply(image, argument), (None, 0))
  return jax.jit(jax.vmap(over_images, (0, None)))


def _against_pil(name, arguments, interpolation='nearest'):
  """|ours - PIL| per argument and image, int32 `(A, N, H, W, 3)`."""
  images = _images()
  got = np.asarray(_batched_op(name, interpolation)(jnp.asarray(arguments), images))
  want = [[_pil(name, image, a, interpolation) for image in images] for a in arguments]
  return np.abs(got.astype(np.int32) - np.asarray(want, np.int32))


TABLE_AND_BLEND_ARGUMENTS = {
    'AutoContrast': [0],  # no argument: ignored
    'Equalize': [0],
    'Invert': [0],
    'Posterize': [0, 1, 3, 4, 8],
    'Solarize': [0, 25, 128, 230, 256],
    'SolarizeAdd': [0, 33, 110],
    'Color': [0.1, 0.19, 0.55, 1.45, 1.81, 1.9],
    'Contrast': [0.1, 0.19, 0.55, 1.45, 1.81, 1.9],
    'Brightness': [0.1, 0.19, 0.55, 1.45, 1.81, 1.9],
    'Sharpness': [0.1, 0.19, 0.55, 1.45, 1.81, 1.9],
}


@pytest.mark.parametrize('name', TABLE_AND_BLEND_ARGUMENTS)
def test_table_and_blend_ops_are_bit_exact_with_pil(name):
  arguments = TABLE_AND_BLEND_ARGUMENTS[name]
  dtype = np.int32 if all(isinstance(a, int) for a in arguments) else np.float32
  assert (_against_pil(name, np.asarray(arguments, dtype)) == 0).all()


def test_autocontrast_keeps_pils_float64_undershoot():
  """PIL stretches a channel spanning [0, 25] to top at 254 (255 * 25 / 25 lands under 255 in
  its float64 arithmetic); the exact integer formula would say 255."""
  image = _images()[2]
  want = np.asarray(ImageOps.autocontrast(Image.fromarray(image)))
  assert image[..., 0].max() == 25 and want[..., 0].max() == 254  # the case is real
  got = jax.jit(ra.auto_contrast_lut)(image)
  assert int(got[0, 25]) == 254 and (np.asarray(got)[np.arange(3), image] == want).all()


def test_blend_rounds_like_pil_under_jit_on_every_pixel_pair():
  """All 65,536 (degenerate, image) pairs: XLA's FMA would skip a rounding PIL's C does."""
  values = np.arange(256, dtype=np.uint8)
  first, second = (a.reshape(256, 256, 1).repeat(3, -1) for a in np.meshgrid(values, values))
  blend = jax.jit(ra.blend)
  for factor in (0.19, 0.73, 1.45, 1.81):
    want = np.asarray(Image.blend(Image.fromarray(first), Image.fromarray(second), factor))
    assert (np.asarray(blend(first, second, np.float32(factor))) == want).all(), factor


GEOMETRIC_ARGUMENTS = {
    'Rotate': [9.0, -27.0, 30.0, 13.7],
    'ShearX': [0.27, -0.15, 0.3],
    'ShearY': [0.27, -0.15, 0.3],
    'TranslateXRel': [0.405, -0.225, 0.1234],
    'TranslateYRel': [0.405, -0.225, 0.1234],
}


@functools.cache
def _resampled(interpolation):
  """Ours: `(images (N, H, W, 3), matrices (M, 6)) -> (M, N, H, W, 3)`, compiled once."""
  resample = functools.partial(ra.resample, fill=FILL, interpolation=interpolation)
  over_images = jax.vmap(resample, (0, None))
  return jax.jit(jax.vmap(over_images, (None, 0)))


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear', 'bicubic'])
def test_geometric_ops_match_pil(interpolation):
  """Nearest: exact. Bilinear, bicubic: PIL truncates a float64 value, we a float32 one; they
  part only where that value lies within float32 error of an integer: by 1, on few pixels.
  The identity matrix (what every other op resamples with) is exact with all three."""
  images = _images()
  height, width = images.shape[1:3]
  cases = [(name, a) for name, arguments in GEOMETRIC_ARGUMENTS.items() for a in arguments]
  matrices = [ALL_OPS[name].build(np.float32(a), height, width) for name, a in cases]
  identity = jnp.asarray([1, 0, 0, 0, 1, 0], jnp.float32)
  got = _resampled(interpolation)(images, jnp.stack(matrices + [identity]))
  assert (np.asarray(got[-1]) == images).all()
  for (name, argument), ours in zip(cases, np.asarray(got, np.int32)):
    want = [_pil(name, image, _float32(argument), interpolation) for image in images]
    diff = np.abs(ours - np.asarray(want, np.int32))
    if interpolation == 'nearest':
      assert diff.max() == 0, (name, argument)
    else:
      assert diff.max() <= 1 and (diff > 0).mean() < 0.05, (name, argument, diff.mean())


def test_pil_transform_bicubic_is_the_a_minus_one_cubic():
  """PIL's transform (its resize differs) interpolates with the a = -1 cubic convolution, as
  ours does; the a = -0.5 one gives another value on this row shifted by a quarter pixel."""
  row = np.array([0, 0, 40, 200, 255, 255, 90, 10], np.uint8)
  image = np.repeat(row[None, :, None], 3, -1).repeat(4, 0)
  shift = (1, 0, 0.25, 0, 1, 0)
  want = np.asarray(Image.fromarray(image).transform((8, 4), Image.AFFINE, shift, Image.BICUBIC))
  v1, v2, v3, v4, d = *row[2:6].astype(np.float64), 0.25  # around output pixel 3
  near = lambda a, t: (a + 2) * t**3 - (a + 3) * t**2 + 1  # Keys' kernel, |t| <= 1
  far = lambda a, t: a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a  # 1 < |t| < 2
  weights = lambda a: [far(a, 1 + d), near(a, d), near(a, 1 - d), far(a, 2 - d)]
  value = lambda a: int(np.dot(weights(a), [v1, v2, v3, v4]))
  assert want[0, 3, 0] == value(-1.0) != value(-0.5)


def _timm_float_levels(m):
  """timm's float64 level arithmetic (sign +), written out, for magnitude `m`."""
  return {
      'Rotate': m / 10 * 30.0,
      'ShearX': m / 10 * 0.3,
      'TranslateXRel': m / 10 * 0.45,
      'Color': m / 10 * 1.8 + 0.1,
      'ColorIncreasing': max(0.1, 1.0 + m / 10 * 0.9),
  }


def _timm_int_levels(m):
  return {
      'Posterize': int(m / 10 * 4),
      'PosterizeIncreasing': 4 - int(m / 10 * 4),
      'Solarize': min(256, int(m / 10 * 256)),
      'SolarizeIncreasing': 256 - min(256, int(m / 10 * 256)),
      'SolarizeAdd': min(128, int(m / 10 * 110)),
  }


def test_levels_equal_timms_at_binary_short_magnitudes_under_jit():
  """m = k / 8 up to 15: float arguments are the float32 of timm's, integer ones equal."""
  for m in np.arange(0, 121) / 8:
    for name, want in {**_timm_float_levels(m), **_timm_int_levels(m)}.items():
      got = jax.jit(ALL_OPS[name].level)(m, 1.0).item()
      assert got == (_float32(want) if isinstance(want, float) else want), (name, m, got, want)


def test_levels_signs_and_ranges():
  rotate = jax.jit(ra.rotate_level)
  assert rotate(9.0, 1.0) == 27.0 and rotate(9.0, -1.0) == -27.0
  color = jax.jit(ra.enhance_increasing_level)
  assert color(9.0, -1.0) == np.float32(0.19) and color(12.0, -1.0) == np.float32(0.1)
  assert jax.jit(ra.enhance_level)(9.0, -1.0) == np.float32(1.72)  # no sign
  assert jax.jit(ra.posterize_increasing_level)(10.0, 1.0) == 0
  assert jax.jit(ra.solarize_add_level)(15.0, 1.0) == 128
  random_m = np.float32(np.random.default_rng(0).uniform(0, 10, 200))
  for m in random_m:  # generic magnitudes: within two float32 ulps of timm's
    want = float(m) / 10 * 0.45
    assert abs(float(jax.jit(ra.translate_rel_level)(m, 1.0)) - want) <= 2**-22 * want


def test_parse_reads_timm_strings():
  assert ra.parse('rand-m9-mstd0.5-inc1') == ra.RandAugmentSettings()  # DeiT's
  assert ra.parse('rand-m9-n3-mstd0.5') == ra.RandAugmentSettings(
      num_layers=3, magnitude=9.0, magnitude_std=0.5, increasing=False
  )
  assert ra.parse('rand') == ra.RandAugmentSettings(
      num_layers=2, magnitude=10.0, magnitude_std=0.0, magnitude_max=10.0, prob=0.5,
      increasing=False,
  )  # fmt: skip
  settings = ra.parse('rand-inc1-p0.25-mmax15-m7-mstd101')
  assert settings == ra.RandAugmentSettings(
      num_layers=2, magnitude=7.0, magnitude_std=math.inf, magnitude_max=15.0, prob=0.25
  )
  assert ra.parse('rand-mmax0').magnitude_max == 10.0  # timm: `magnitude_max or 10`


@pytest.mark.parametrize(
    'spec, part',
    [
        ('rand-x9', 'x9'),
        ('rand-m9.5', 'm9.5'),  # timm reads m as an integer
        ('rand-m', 'm'),
        ('rand-m9--n2', ''),
        ('rand-m9-m8', 'm8'),
        ('rand-tweights', 'tweights'),
        ('augmix-m9', 'augmix'),
    ],
)
def test_parse_rejects_bad_strings_in_one_line(spec, part):
  with pytest.raises(ValueError) as error:
    ra.parse(spec)
  message = str(error.value)
  assert '\n' not in message and f'at {part!r}' in message
  assert 'keys: n, m, mstd, mmax, p, inc' in message


def test_bad_settings_and_interpolation_raise():
  with pytest.raises(ValueError, match='num_layers'):
    ra.RandAugmentSettings(num_layers=-1)
  with pytest.raises(ValueError, match="'lanczos'; valid: nearest, bilinear, bicubic"):
    ra.resample(jnp.zeros((4, 4, 3), jnp.uint8), jnp.zeros(6), fill=FILL, interpolation='lanczos')


def test_draws_are_uniform_ops_prob_coins_and_clipped_magnitudes():
  batch = 20000
  settings = ra.RandAugmentSettings(prob=0.3, magnitude_std=4.0)
  draws = jax.jit(ra.draw, static_argnums=(1, 2))(jax.random.key(0), batch, settings)
  assert draws.op.shape == (batch, 2)
  counts = np.bincount(np.asarray(draws.op).ravel(), minlength=16)
  expected = 2 * batch / 15
  assert counts[15] == 0 and np.abs(counts[:15] - expected).max() < 5 * math.sqrt(expected)
  assert abs(float(draws.applied.mean()) - 0.3) < 0.01
  assert abs(float((draws.sign > 0).mean()) - 0.5) < 0.01 and set(np.unique(draws.sign)) == {-1, 1}
  magnitude = np.asarray(draws.magnitude)
  assert magnitude.min() == 0.0 and magnitude.max() == 10.0  # clipped at both ends
  assert abs((magnitude == 10).mean() - 0.4013) < 0.01  # P(gauss(9, 4) > 10)
  assert abs((magnitude == 0).mean() - 0.0122) < 0.003  # P(gauss(9, 4) < 0)
  assert (draws.op[:, 0] != draws.op[:, 1]).mean() > 0.9  # layers draw independently


def test_magnitude_std_zero_and_inf():
  sample = jax.jit(ra.sample_magnitudes, static_argnums=(1, 2))
  fixed = sample(jax.random.key(1), (1000,), ra.RandAugmentSettings(magnitude_std=0.0))
  assert (fixed == 9.0).all()
  uniform = sample(jax.random.key(1), (5000,), ra.RandAugmentSettings(magnitude_std=math.inf))
  magnitude = np.asarray(uniform)
  assert magnitude.min() >= 0 and magnitude.max() <= 9.0 and abs(magnitude.mean() - 4.5) < 0.1


_RAND_AUGMENT = jax.jit(ra.rand_augment, static_argnames=('settings', 'interpolation'))


def _augment(key, images, settings, interpolation='nearest'):
  return _RAND_AUGMENT(key, images, settings, fill=FILL, interpolation=interpolation)


DEIT = ra.RandAugmentSettings()
BATCH = np.concatenate([_images()] * 8)  # (24, 20, 26, 3): one compile for the tests below


def test_prob_zero_is_identity_and_deits_changes_images():
  images = jnp.asarray(BATCH)
  kept = _augment(jax.random.key(0), images, dataclasses.replace(DEIT, prob=0.0))
  assert (kept == images).all()
  changed = _augment(jax.random.key(0), images, DEIT)
  assert changed.dtype == jnp.uint8 and changed.shape == images.shape
  assert (changed != images).any(axis=(1, 2, 3)).mean() > 0.5  # 3/4 draw at least one op


def test_same_key_same_output_and_images_draw_their_own_ops():
  images = jnp.asarray(np.stack([BATCH[0]] * len(BATCH)))
  first = np.asarray(_augment(jax.random.key(3), images, DEIT))
  assert (first == np.asarray(_augment(jax.random.key(3), images, DEIT))).all()
  assert (first != np.asarray(_augment(jax.random.key(4), images, DEIT))).any()
  assert len({image.tobytes() for image in first}) >= 15  # one image, augmented 24 ways


def _replay(images, draws, settings, interpolation):
  """timm's RandAugment on PIL with the ops, coins, magnitudes and signs of `draws`."""
  names = list(ra.ops_of(settings))
  out = []
  for n, image in enumerate(images):
    for layer in range(settings.num_layers):
      if not draws.applied[n, layer]:
        continue
      name = names[int(draws.op[n, layer])]
      level = ALL_OPS[name].level
      argument = None
      if level is not None:
        argument = jax.jit(level)(draws.magnitude[n, layer], draws.sign[n, layer]).item()
      image = _pil(name, image, argument, interpolation)
    out.append(image)
  return np.stack(out)


def test_rand_augment_is_timms_on_pil_replayed_with_the_same_draws():
  """DeiT's settings, nearest sampling: every image equal to PIL's, op after op."""
  key = jax.random.key(7)
  got = np.asarray(_augment(key, jnp.asarray(BATCH), DEIT))
  draws = jax.tree.map(np.asarray, jax.jit(ra.draw, static_argnums=(1, 2))(key, len(BATCH), DEIT))
  assert draws.applied.sum() > 10
  assert (got == _replay(BATCH, draws, DEIT, 'nearest')).all()


@pytest.mark.slow
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('increasing', [True, False])
def test_rand_augment_at_224_matches_pil_replay(interpolation, increasing):
  """224 x 224, both op sets: within 1 of PIL on under 1% of pixels."""
  rng = np.random.default_rng(1)
  images = rng.integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)
  settings = ra.RandAugmentSettings(prob=1.0, increasing=increasing)
  key = jax.random.key(11)
  got = np.asarray(_augment(key, jnp.asarray(images), settings, interpolation))
  draws = jax.tree.map(np.asarray, jax.jit(ra.draw, static_argnums=(1, 2))(key, 16, settings))
  diff = np.abs(got.astype(np.int32) - _replay(images, draws, settings, interpolation))
  assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())
