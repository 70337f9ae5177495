"""Decoding one encoded image (JPEG, PNG) to a uint8 RGB array, with errors that name the file."""

import io
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from cutmix_jax.errors import UserError

# What decoding a file that is not a whole, sane image raises: PIL's OSError (cut short,
# unidentified), simplejpeg's ValueError, and PIL's refusal of a decompression bomb.
DECODE_ERRORS = (OSError, ValueError, Image.DecompressionBombError)


class UnreadableImageError(UserError, ValueError):
  """An image file that does not decode; the message names it, on one line."""


def unreadable(name: str, error: BaseException) -> UnreadableImageError:
  return UnreadableImageError(f'cannot decode image file {name}: {" ".join(str(error).split())}')


def decode(name: str, data: Optional[bytes] = None) -> np.ndarray:
  """uint8 RGB `(H, W, 3)` of the file `name`, or of its bytes `data` if given.

  A file that is not a decodable image raises UnreadableImageError naming `name`.
  """
  try:
    with Image.open(name if data is None else io.BytesIO(data)) as image:
      return np.asarray(image.convert('RGB'))
  except DECODE_ERRORS as error:
    raise unreadable(name, error) from None


def header_size(name: str) -> Tuple[int, int]:
  """`(H, W)` of an image file, read from its header only."""
  try:
    with Image.open(name) as image:
      return image.height, image.width
  except DECODE_ERRORS as error:
    raise unreadable(name, error) from None
