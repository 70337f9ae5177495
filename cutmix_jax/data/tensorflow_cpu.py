"""TensorFlow for the input pipeline only, kept off the accelerators that JAX uses.

Import `tf` from here, and only inside the modules that build tf.data pipelines, which the
loader imports lazily: `import cutmix_jax.data` does not import TensorFlow.
"""

import tensorflow as tf

try:
  tf.config.set_visible_devices([], 'GPU')
except RuntimeError:  # TensorFlow was initialised elsewhere already; its devices are fixed
  pass

__all__ = ['tf']
