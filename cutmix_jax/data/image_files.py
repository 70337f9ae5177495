"""Decoding one encoded image (JPEG, PNG) to a uint8 RGB array, with errors that name the file."""

import io
from typing import Optional, Tuple

import numpy as np
from PIL import Image


def decode(name: str, data: Optional[bytes] = None) -> np.ndarray:
  """uint8 RGB `(H, W, 3)` of the file `name`, or of its bytes `data` if given.

  A file that is not a decodable image raises ValueError naming `name`.
  """
  try:
    with Image.open(name if data is None else io.BytesIO(data)) as image:
      return np.asarray(image.convert('RGB'))
  except (OSError, ValueError, Image.DecompressionBombError) as error:
    raise ValueError(f'cannot decode image file {name}: {error}') from error


def header_size(name: str) -> Tuple[int, int]:
  """`(H, W)` of an image file, read from its header only."""
  try:
    with Image.open(name) as image:
      return image.height, image.width
  except OSError as error:
    raise ValueError(f'cannot decode image file {name}: {error}') from error
