"""DeiT III's 3-Augment (`cutmix_jax.data.three_augment`) against PIL, which DeiT III calls."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from PIL import ImageEnhance
from PIL import ImageFilter
from PIL import ImageOps
import pytest

from cutmix_jax.data import rand_augment
from cutmix_jax.data import three_augment


def _images():
  noise = np.random.default_rng(0).integers(0, 256, (21, 26, 3), np.uint8)
  ramp = np.add.outer(np.arange(30), 3 * np.arange(27)) % 256
  stripes = np.stack([ramp, 255 - ramp, ramp // 2], -1)
  return [noise, stripes.astype(np.uint8)]


@pytest.mark.parametrize('radius', [0.1, 0.37, 0.81, 1.0, 1.53, 2.0])
def test_gaussian_blur_is_pils_bit_for_bit(radius):
  blur = jax.jit(three_augment.gaussian_blur)
  for image in _images():
    pil = Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius))
    np.testing.assert_array_equal(blur(jnp.asarray(image), radius), np.asarray(pil))


def test_solarize_and_grayscale_are_pils():
  for image in _images():
    pil = Image.fromarray(image)
    np.testing.assert_array_equal(three_augment.solarize(image), np.asarray(ImageOps.solarize(pil)))
    gray = np.asarray(pil.convert('L').convert('RGB'))  # torchvision's Grayscale(3) on PIL
    np.testing.assert_array_equal(rand_augment.grayscale(jnp.asarray(image)), gray)


@pytest.mark.parametrize('order', [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_color_jitter_is_pils_enhancers_in_the_drawn_order(order):
  factors = np.float32([0.73, 1.21, 1.29])
  enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
  for image in _images():
    pil = Image.fromarray(image)
    for kind in order:
      pil = enhancers[kind](pil).enhance(float(factors[kind]))
    ours = jax.jit(three_augment.jittered)(jnp.asarray(image), jnp.asarray(order), factors)
    np.testing.assert_array_equal(ours, np.asarray(pil))


@pytest.mark.slow  # 300 images through every branch: 10 s
def test_three_augment_picks_one_of_the_three_uniformly_then_jitters():
  image = _images()[0]
  images = jnp.asarray(np.stack([image] * 300))
  plain = np.asarray(
      jax.jit(three_augment.three_augment, static_argnums=2)(jax.random.key(0), images, 0.0)
  )
  gray = np.asarray(rand_augment.grayscale(jnp.asarray(image)))
  solar = np.asarray(three_augment.solarize(image))
  is_gray = (plain == gray).all((1, 2, 3))
  is_solar = (plain == solar).all((1, 2, 3))
  blurred = ~is_gray & ~is_solar
  for share in (is_gray.mean(), is_solar.mean(), blurred.mean()):
    assert share == pytest.approx(1 / 3, abs=0.08)
  roughness = lambda x: np.abs(np.diff(x.astype(int), axis=1)).mean()
  smoothed = [roughness(b) for b in plain[blurred]]
  assert max(smoothed) <= roughness(image) and np.mean(smoothed) < 0.7 * roughness(image)
  jittered = np.asarray(jax.jit(three_augment.three_augment)(jax.random.key(0), images))
  assert (jittered != plain).any((1, 2, 3)).mean() > 0.9  # the colour jitter moves nearly all
  again = np.asarray(jax.jit(three_augment.three_augment)(jax.random.key(0), images))
  np.testing.assert_array_equal(jittered, again)
