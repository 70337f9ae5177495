"""Per-image host ops for large images without TensorFlow: decode, crop, resize, flip.

The semantics of torchvision (and of `tf_preprocess`): train takes `RandomResizedCrop`'s window
(scale 0.08 to 1 of the area, aspect ratio log-uniform in 3/4 to 4/3, 10 tries, else a centre
crop of clamped aspect ratio) and a horizontal flip; eval the centre square of side 224/256 (or
`crop_fraction`) of the shorter side. The window is cut out and resized (PIL's antialiased
bilinear or bicubic, as torchvision's `resized_crop` on PIL images) to `image_size`, uint8. The
random draws come from the NumPy generator passed in (seeded per example), so the ops are
deterministic given it.

JPEGs decode by libjpeg-turbo, at 1/2, 1/4 or 1/8 scale in the DCT domain where the window is at
least twice the output side: only the window's blocks where TurboJPEG 3 is installed
(`jpeg_window`), else the whole image through simplejpeg (measured 1.2x faster than PIL's decode
of the same files: docs/PERFORMANCE.md), the same pixels either way; other files (PNG, ...) and
the JPEGs both refuse (a corrupt-data warning, CMYK, ...) decode through PIL.
"""

import io
import math

import numpy as np
from PIL import Image
import simplejpeg

from cutmix_jax.data import augment
from cutmix_jax.data import image_files
from cutmix_jax.data import jpeg_window

_ATTEMPTS = 10
RESAMPLING = {'bilinear': Image.Resampling.BILINEAR, 'bicubic': Image.Resampling.BICUBIC}


def random_resized_window(height: int, width: int, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
  """A random crop window `(y, x, h, w)` of an `H x W` image, as torchvision draws it."""
  area = height * width * rng.uniform(scale[0], scale[1], _ATTEMPTS)
  aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), _ATTEMPTS))
  widths, heights = np.round(np.sqrt(area * aspect)), np.round(np.sqrt(area / aspect))
  fits = (widths <= width) & (heights <= height) & (widths > 0) & (heights > 0)
  offsets = rng.uniform(size=2)
  if fits.any():
    first = int(np.argmax(fits))
    crop_h, crop_w = int(heights[first]), int(widths[first])
    y = int(offsets[0] * (height - crop_h + 1))
    x = int(offsets[1] * (width - crop_w + 1))
    return y, x, crop_h, crop_w
  in_ratio = width / height
  crop_h = int(round(width / ratio[0])) if in_ratio < ratio[0] else height
  crop_w = int(round(height * ratio[1])) if in_ratio > ratio[1] else width
  return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def centre_window(height: int, width: int, fraction: float = augment.EVAL_CROP_FRACTION):
  """The centred square window `(y, x, side, side)` of side `fraction * min(H, W)`."""
  side = int(round(fraction * min(height, width)))
  return int(round((height - side) / 2)), int(round((width - side) / 2)), side, side


def _size(data: bytes):
  """`(height, width, is_jpeg)` of an encoded image, from its header."""
  try:
    height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    return height, width, True
  except ValueError:  # not a JPEG
    with Image.open(io.BytesIO(data)) as image:
      return image.height, image.width, False


def _decoded(data: bytes, height: int, width: int, is_jpeg: bool, reduce: int) -> np.ndarray:
  """The RGB pixels, a JPEG at 1/`reduce` scale (libjpeg-turbo's DCT scaling)."""
  size = -(-height // reduce), -(-width // reduce)
  if is_jpeg:
    try:
      return simplejpeg.decode_jpeg(data, min_height=size[0], min_width=size[1])
    except ValueError:  # a corrupt-data warning, ...: PIL decodes it or says why not
      pass
  with Image.open(io.BytesIO(data)) as image:
    image.draft('RGB', size[::-1])
    return np.asarray(image.convert('RGB'))


def _window_pixels(data: bytes, height: int, width: int, is_jpeg: bool, window, reduce: int):
  """The decoded pixels that cover `window` (a JPEG's at 1/`reduce` scale: only the window's
  blocks where `jpeg_window` can), and the window's box in them."""
  y, x, h, w = window
  fy, fx = -(-height // reduce) / height, -(-width // reduce) / width
  top, left = math.floor(y * fy), math.floor(x * fx)
  bottom, right = math.ceil((y + h) * fy), math.ceil((x + w) * fx)
  box = (x * fx - left, y * fy - top, (x + w) * fx - left, (y + h) * fy - top)
  pixels = jpeg_window.decode(data, top, left, bottom, right, reduce) if is_jpeg else None
  if pixels is None:
    pixels = _decoded(data, height, width, is_jpeg, reduce)[top:bottom, left:right]
  return pixels, box


def _window_resized(name: str, data, draw, image_size: int, interpolation: str) -> np.ndarray:
  """The window of the file `name` (or its bytes `data`) resized to `image_size` square (by
  `interpolation`, a name of `RESAMPLING`) and mirrored as `draw(height, width) = (window, flip)`
  says.

  Raises:
    image_files.UnreadableImageError: one line naming the file, for one that does not decode.
  """
  try:
    if data is None:
      with open(name, 'rb') as f:
        data = f.read()
    height, width, is_jpeg = _size(data)
    window, flip = draw(height, width)
    reduce = 1
    while is_jpeg and reduce < 8 and min(window[2:]) >= 2 * reduce * image_size:
      reduce *= 2
    pixels, box = _window_pixels(data, height, width, is_jpeg, window, reduce)
  except image_files.DECODE_ERRORS as error:
    raise image_files.unreadable(name, error) from None
  crop = Image.fromarray(np.ascontiguousarray(pixels))
  resized = crop.resize((image_size, image_size), RESAMPLING[interpolation], box=box)
  return np.asarray(resized.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else resized)


def train_image(
    name: str, rng, image_size: int, data=None, interpolation: str = 'bilinear'
) -> np.ndarray:
  """The file `name` (or its bytes `data`) as an augmented uint8 `(image_size, image_size, 3)`."""
  draw = lambda height, width: (random_resized_window(height, width, rng), rng.uniform() < 0.5)
  return _window_resized(name, data, draw, image_size, interpolation)


def eval_image(
    name: str,
    image_size: int,
    data=None,
    interpolation: str = 'bilinear',
    crop_fraction: float = augment.EVAL_CROP_FRACTION,
) -> np.ndarray:
  """The file `name` (or its bytes) centre-cropped (the square of side `crop_fraction` of the
  shorter side), as uint8 `(image_size, image_size, 3)`."""
  window = lambda h, w: (centre_window(h, w, crop_fraction), False)
  return _window_resized(name, data, window, image_size, interpolation)
