"""The host ops of the Grain pipeline: torchvision's windows and resized crop, every format."""

import io

import numpy as np
from PIL import Image
import pytest

from cutmix_jax.data import host_preprocess


def _photo(height, width, seed=0, detail=16):
  """A smooth photo-like RGB image, random at every `detail` pixels (JPEG keeps it well)."""
  rng = np.random.default_rng(seed)
  coarse = rng.uniform(0, 255, (height // detail + 2, width // detail + 2, 3)).astype(np.uint8)
  return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def _encoded(pixels, format_='JPEG', mode='RGB', **options) -> bytes:
  out = io.BytesIO()
  Image.fromarray(pixels).convert(mode).save(out, format_, **options)
  return out.getvalue()


def _torchvision(data, window, size, flip=False):
  """torchvision's resized_crop on the PIL image: crop, then antialiased bilinear resize."""
  y, x, h, w = window
  with Image.open(io.BytesIO(data)) as image:
    crop = image.convert('RGB').crop((x, y, x + w, y + h))
    out = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))
  return out[:, ::-1] if flip else out


def test_windows_are_torchvisions():
  assert host_preprocess.centre_window(100, 200) == (6, 56, 88, 88)  # as tf_preprocess's
  rng = np.random.default_rng(0)
  windows = np.array([host_preprocess.random_resized_window(80, 96, rng) for _ in range(400)])
  y, x, h, w = windows.T
  assert (y >= 0).all() and (x >= 0).all() and (y + h <= 80).all() and (x + w <= 96).all()
  assert (h * w >= 0.08 * 80 * 96 * 0.9).all() and (w / h > 0.75 * 0.9).all()
  assert np.median(h * w / (80 * 96)) == pytest.approx(0.54, abs=0.1)
  fallback = [host_preprocess.random_resized_window(300, 40, rng) for _ in range(200)]
  assert (123, 0, 53, 40) in fallback  # large areas do not fit: the centred fallback


def test_train_and_eval_images_are_torchvisions_resized_crop():
  data = _encoded(_photo(300, 400), quality=90)
  flips = []
  for seed in range(12):
    rng = np.random.default_rng(seed)
    window = host_preprocess.random_resized_window(300, 400, rng)
    flips.append(rng.uniform() < 0.5)
    out = host_preprocess.train_image('a.jpg', np.random.default_rng(seed), 224, data=data)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, _torchvision(data, window, 224, flips[-1]))
  assert 0 < sum(flips) < 12
  np.testing.assert_array_equal(
      host_preprocess.eval_image('a.jpg', 224, data=data),
      _torchvision(data, host_preprocess.centre_window(300, 400), 224),
  )


@pytest.mark.parametrize(
    'format_, mode', [('PNG', 'RGB'), ('JPEG', 'L'), ('JPEG', 'CMYK'), ('PNG', 'RGBA')]
)
def test_every_format_decodes_to_rgb(format_, mode):
  pixels = _photo(120, 160)
  data = _encoded(pixels, format_, mode)
  with Image.open(io.BytesIO(data)) as image:
    reference = np.asarray(image.convert('RGB'))
  out = host_preprocess.eval_image('a', 64, data=data)
  assert out.shape == (64, 64, 3) and out.dtype == np.uint8
  expected = _encoded(reference, 'PNG')  # the reference pixels, losslessly
  reference_out = host_preprocess.eval_image('b', 64, data=expected).astype(int)
  tolerance = 2 if mode == 'CMYK' else 0  # libjpeg-turbo and PIL round CMYK to RGB differently
  assert np.abs(out - reference_out).max() <= tolerance


def test_a_window_twice_the_output_decodes_reduced_and_stays_close():
  data = _encoded(_photo(1024, 1280, detail=64), quality=95)
  window = host_preprocess.centre_window(1024, 1280)  # side 896 = 8 x 112: decoded at 1/4
  reduced = host_preprocess.eval_image('a.jpg', 112, data=data).astype(int)
  full = _torchvision(data, window, 112).astype(int)
  assert 0 < np.abs(reduced - full).mean() < 1.5  # the DCT's reduction is not PIL's filter


@pytest.mark.parametrize('data', [b'not an image', _encoded(_photo(64, 64))[:300]])
def test_an_unreadable_file_is_named_in_one_line(data):
  with pytest.raises(ValueError, match=r'^cannot decode image file dir/x\.jpg: [^\n]*$'):
    host_preprocess.train_image('dir/x.jpg', np.random.default_rng(0), 32, data=data)
  with pytest.raises(ValueError, match=r'^cannot decode image file missing\.jpg: [^\n]*$'):
    host_preprocess.eval_image('missing.jpg', 32)
