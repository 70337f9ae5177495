"""The pixels of one window of a JPEG, decoded alone: TurboJPEG 3's cropping region, through ctypes.

libjpeg-turbo then skips the inverse DCT, upsampling and colour conversion of the blocks outside
the window's rows and columns, and stops after its last row (0.70 against 0.90 ms per image on
the benchmark folder of docs/PERFORMANCE.md). The pixels are the full decode's: the region asked
for starts at least one pixel left of the window, at a multiple of the widest MCU (32 px), and
ends two pixels right of it, so the chroma upsampling at the window's edges reads the neighbours
a full decode reads. TurboJPEG 3 comes from the `turbojpeg` package (its wheels, in the `train`
extra on x86-64 Linux, carry the library; only that library is used) or from the system
(libjpeg-turbo 3). Without either, `decode` returns None and the caller decodes the whole image.
"""

import ctypes
import ctypes.util
import functools
import importlib.util
import pathlib
import threading
from typing import Optional

import numpy as np

_DECOMPRESS = 1  # TJINIT_DECOMPRESS
_STOP_ON_WARNING = 0  # TJPARAM_STOPONWARNING: a corrupt-data warning fails, as simplejpeg's does
_WIDTH = 5  # TJPARAM_JPEGWIDTH
_RGB = 0  # TJPF_RGB
_MCU = 32  # the widest MCU (4:1:1): a multiple of it is a valid left edge at every scale


class _Region(ctypes.Structure):
  _fields_ = [('x', ctypes.c_int), ('y', ctypes.c_int), ('w', ctypes.c_int), ('h', ctypes.c_int)]


class _Scale(ctypes.Structure):
  _fields_ = [('num', ctypes.c_int), ('denom', ctypes.c_int)]


def _candidates():
  """Paths of TurboJPEG libraries: the `turbojpeg` package's, then the system's."""
  spec = importlib.util.find_spec('turbojpeg')  # not imported: only its library is used
  if spec is not None and spec.origin:
    yield from sorted((pathlib.Path(spec.origin).parent / 'turbojpeg.libs').glob('libturbojpeg*'))
  system = ctypes.util.find_library('turbojpeg')
  if system:
    yield system


@functools.cache
def library() -> Optional[ctypes.CDLL]:
  """The first TurboJPEG 3 library found (with `tj3Init`); None if there is none."""
  for path in _candidates():
    try:
      lib = ctypes.CDLL(str(path))
    except OSError:
      continue
    if not hasattr(lib, 'tj3SetCroppingRegion'):  # libjpeg-turbo 2 has no TurboJPEG 3 API
      continue
    handle, buffer, size, number = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
    lib.tj3Init.restype = handle
    lib.tj3Init.argtypes = [number]
    lib.tj3Destroy.argtypes = [handle]
    lib.tj3Set.argtypes = [handle, number, number]
    lib.tj3Get.argtypes = [handle, number]
    lib.tj3DecompressHeader.argtypes = [handle, buffer, size]
    lib.tj3SetScalingFactor.argtypes = [handle, _Scale]
    lib.tj3SetCroppingRegion.argtypes = [handle, _Region]
    lib.tj3Decompress8.argtypes = [handle, buffer, size, ctypes.c_void_p, number, number]
    return lib
  return None


class _Handle:
  """One decompressor (a TurboJPEG handle serves one thread at a time), freed with its thread."""

  def __init__(self, lib: ctypes.CDLL):
    self.lib, self.pointer = lib, lib.tj3Init(_DECOMPRESS)
    lib.tj3Set(self.pointer, _STOP_ON_WARNING, 1)

  def __del__(self):
    self.lib.tj3Destroy(self.pointer)


_threads = threading.local()


def decode(data: bytes, top: int, left: int, bottom: int, right: int, reduce: int):
  """RGB rows `top:bottom`, columns `left:right` of the JPEG `data` decoded at 1/`reduce` scale
  (coordinates in the scaled image), or None where there is no TurboJPEG 3 or it refuses `data`
  (not a JPEG, CMYK, a corrupt-data warning, ...)."""
  lib = library()
  if lib is None:
    return None
  if getattr(_threads, 'handle', None) is None:
    _threads.handle = _Handle(lib)
  pointer = _threads.handle.pointer
  if lib.tj3DecompressHeader(pointer, data, len(data)) or lib.tj3SetScalingFactor(
      pointer, _Scale(1, reduce)
  ):
    return None
  width = -(-lib.tj3Get(pointer, _WIDTH) // reduce)
  start, stop = max(0, left - 1) // _MCU * _MCU, min(width, right + 2)
  pixels = np.empty((bottom - top, stop - start, 3), np.uint8)
  region = _Region(start, top, stop - start, bottom - top)
  if lib.tj3SetCroppingRegion(pointer, region) or lib.tj3Decompress8(
      pointer, data, len(data), pixels.ctypes.data, 0, _RGB
  ):
    return None
  return pixels[:, left - start : right - start]
