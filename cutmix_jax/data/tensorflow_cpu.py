"""TensorFlow for the input pipeline only, kept off the accelerators that JAX uses.

Import `tf` from here, and only inside the modules that build tf.data pipelines, which the
loader imports lazily: `import cutmix_jax.data` does not import TensorFlow.
"""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # no C++ log lines before our one-line errors

import tensorflow as tf  # noqa: E402

try:
  tf.config.set_visible_devices([], 'GPU')
except RuntimeError:  # TensorFlow was initialised elsewhere already; its devices are fixed
  pass

__all__ = ['tf']
