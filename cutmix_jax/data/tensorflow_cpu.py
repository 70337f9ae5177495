"""TensorFlow for the input pipeline only: kept off the accelerators that JAX uses, and quiet.

Import `tf` from here, and only inside the modules that build tf.data pipelines, which the
loader imports lazily: `import cutmix_jax.data` does not import TensorFlow. It must come before
TFDS's first use of TensorFlow (the loader sees to it).
"""

import importlib
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # no C++ log lines before our one-line errors


def _import_quietly():
  """`import tensorflow` with its start-up notices on stderr (oneDNN, CPU features) muted:
  TensorFlow 2.21 prints them through absl before any log level applies."""
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w', encoding='utf-8') as null:
      os.dup2(null.fileno(), 2)
      return importlib.import_module('tensorflow')
  finally:
    os.dup2(saved, 2)
    os.close(saved)


tf = _import_quietly()

try:
  tf.config.set_visible_devices([], 'GPU')
except RuntimeError:  # TensorFlow was initialised elsewhere already; its devices are fixed
  pass

__all__ = ['tf']
