"""Input pipelines: `load_dataset(name, ...)` gives a `Dataset` for a pmapped train step.

Sources: `shapes` (synthetic, with object boxes), `folder:PATH`, `tfds:NAME[:VERSION]`. Small
images are held in memory and augmented on device; large ones stream through tf.data. Importing
this package does not import TensorFlow.
"""
from cutmix_jax.data.dataset import Dataset
from cutmix_jax.data.loader import IN_MEMORY_MAX_SIDE
from cutmix_jax.data.loader import SOURCE_FORMS
from cutmix_jax.data.loader import check_source_name
from cutmix_jax.data.loader import load_dataset

__all__ = ['Dataset', 'IN_MEMORY_MAX_SIDE', 'SOURCE_FORMS', 'check_source_name', 'load_dataset']
