"""Per-image host ops for large images without TensorFlow: decode, crop, resize, flip (PIL).

The semantics of `tf_preprocess`: train takes torchvision's `RandomResizedCrop` (scale 0.08 to 1
of the area, aspect ratio log-uniform in 3/4 to 4/3, 10 tries, else a centre crop of clamped
aspect ratio) and a horizontal flip; eval the centre square of side 224/256 of the shorter side;
both are resized (bilinear, antialiased) to `image_size` and returned as uint8. The random draws
come from the NumPy generator passed in (seeded per example), so the ops are deterministic given
it. Decoding is libjpeg-turbo's through PIL; a JPEG whose crop is at least twice the output side
is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (`Image.draft`), which skips most of the
decode work.
"""

import io
import math

import numpy as np
from PIL import Image

EVAL_CROP_FRACTION = 224 / 256
_ATTEMPTS = 10


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


def centre_window(height: int, width: int, fraction: float = EVAL_CROP_FRACTION):
  """The centred square window `(y, x, side, side)` of side `fraction * min(H, W)`."""
  side = int(round(fraction * min(height, width)))
  return int(round((height - side) / 2)), int(round((width - side) / 2)), side, side


def _cropped(image: Image.Image, window, image_size: int) -> np.ndarray:
  """The window of `image` resized to `image_size` square, decoding a JPEG at a reduced scale
  in the DCT domain where the window is at least twice the output side."""
  y, x, h, w = window
  full_width = image.width
  reduce = 1
  while reduce < 8 and min(h, w) >= 2 * reduce * image_size:
    reduce *= 2
  if reduce > 1 and image.format == 'JPEG':
    image.draft('RGB', (math.ceil(image.width / reduce), math.ceil(image.height / reduce)))
  factor = image.width / full_width  # 1, or the scale the draft decodes at
  box = (x * factor, y * factor, (x + w) * factor, (y + h) * factor)
  image = image.convert('RGB')
  resized = image.resize((image_size, image_size), Image.Resampling.BILINEAR, box=box)
  return np.asarray(resized)


def _opened(name: str, data) -> Image.Image:
  return Image.open(io.BytesIO(data) if data is not None else name)


def train_image(name: str, rng, image_size: int, data=None) -> np.ndarray:
  """The file `name` (or its bytes `data`) as an augmented uint8 `(image_size, image_size, 3)`.

  Raises:
    ValueError: one line naming the file, for one that is not a decodable image.
  """
  try:
    with _opened(name, data) as image:
      window = random_resized_window(image.height, image.width, rng)
      flip = rng.uniform() < 0.5
      out = _cropped(image, window, image_size)
  except (OSError, ValueError, Image.DecompressionBombError) as error:
    raise ValueError(f'cannot decode image file {name}: {error}') from None
  return np.ascontiguousarray(out[:, ::-1]) if flip else out


def eval_image(name: str, image_size: int, data=None) -> np.ndarray:
  """The file `name` (or its bytes) centre-cropped, as uint8 `(image_size, image_size, 3)`.

  Raises:
    ValueError: one line naming the file, for one that is not a decodable image.
  """
  try:
    with _opened(name, data) as image:
      return _cropped(image, centre_window(image.height, image.width), image_size)
  except (OSError, ValueError, Image.DecompressionBombError) as error:
    raise ValueError(f'cannot decode image file {name}: {error}') from None
