"""The window decode (TurboJPEG 3's cropping region) gives exactly the full decode's pixels."""

import io
import platform
import sys

import numpy as np
from PIL import Image
import pytest
import simplejpeg

from cutmix_jax.data import host_preprocess
from cutmix_jax.data import jpeg_window


def _photo(height, width, seed):
  """A photo-like RGB image: smooth colour regions with fine noise (every block has detail)."""
  rng = np.random.default_rng(seed)
  coarse = rng.uniform(0, 255, (height // 12 + 2, width // 12 + 2, 3)).astype(np.uint8)
  smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
  return np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)


def _jpegs():
  """`(name, data)`: every chroma subsampling, grey, progressive and restart-marker JPEGs, of
  sizes that are and are not multiples of the MCU."""
  pixels = _photo(203, 301, 0)
  for subsampling in ('444', '422', '420', '440', '411', 'Gray'):
    yield subsampling, simplejpeg.encode_jpeg(pixels, 90, colorsubsampling=subsampling)
  for name, options in [('progressive', dict(progressive=True)),
                        ('restart markers', dict(restart_marker_rows=1))]:  # fmt: skip
    out = io.BytesIO()
    Image.fromarray(_photo(192, 256, 1)).save(out, 'JPEG', quality=85, **options)
    yield name, out.getvalue()


def _windows(height, width, rng, count=25):
  """Random `(top, left, bottom, right)` windows, the whole image and its corners among them."""
  yield 0, 0, height, width
  yield 0, width - 5, 7, width
  yield height - 3, 0, height, 9
  for _ in range(count):
    top, left = rng.integers(0, height - 1), rng.integers(0, width - 1)
    yield top, left, rng.integers(top + 1, height + 1), rng.integers(left + 1, width + 1)


def test_the_library_loads_where_the_train_extra_brings_it():
  if sys.platform == 'linux' and platform.machine() == 'x86_64' and sys.version_info < (3, 14):
    assert jpeg_window.library() is not None  # pyproject: the turbojpeg wheel of the train extra


@pytest.mark.parametrize('name, data', list(_jpegs()), ids=[name for name, _ in _jpegs()])
@pytest.mark.parametrize('reduce', [1, 2, 4, 8])
def test_a_window_is_the_full_decodes_pixels(name, data, reduce):
  if jpeg_window.library() is None:
    pytest.fail('no TurboJPEG 3 library: pip install turbojpeg, or libjpeg-turbo 3')
  height, width = simplejpeg.decode_jpeg_header(data)[:2]
  size = -(-height // reduce), -(-width // reduce)
  full = simplejpeg.decode_jpeg(data, min_height=size[0], min_width=size[1])
  assert full.shape[:2] == size
  rng = np.random.default_rng(reduce)
  for top, left, bottom, right in _windows(*size, rng):
    window = jpeg_window.decode(data, top, left, bottom, right, reduce)
    np.testing.assert_array_equal(window, full[top:bottom, left:right], err_msg=f'{name} {reduce}')


def test_what_it_refuses_is_none():
  cmyk, png = io.BytesIO(), io.BytesIO()
  Image.fromarray(_photo(64, 64, 2)).convert('CMYK').save(cmyk, 'JPEG')
  Image.fromarray(_photo(64, 64, 2)).save(png, 'PNG')
  truncated = simplejpeg.encode_jpeg(_photo(64, 64, 2), 90)[:600]
  for data in (cmyk.getvalue(), png.getvalue(), truncated, b'not an image'):
    assert jpeg_window.decode(data, 0, 0, 8, 8, 1) is None


def test_the_images_are_the_same_without_the_library(monkeypatch):
  data = simplejpeg.encode_jpeg(_photo(480, 640, 3), 90)

  def images():  # at 112 px the eval window and the large train ones decode at 1/2 scale
    train = [host_preprocess.train_image('a.jpg', np.random.default_rng(seed), 112, data=data)
             for seed in range(8)]  # fmt: skip
    return train + [host_preprocess.eval_image('a.jpg', 112, data=data)]

  with_library = images()
  monkeypatch.setattr(jpeg_window, 'library', lambda: None)
  for windowed, whole in zip(with_library, images()):
    np.testing.assert_array_equal(windowed, whole)
