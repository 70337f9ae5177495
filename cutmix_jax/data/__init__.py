"""Input pipelines: `load_dataset(DataConfig(...), ...)` gives a `Dataset` for a pmapped step.

Sources: `shapes` (synthetic, with object boxes), `folder:PATH`, `tfds:NAME[:VERSION]`, one
module each; `loader` dispatches. Small images are held in memory and augmented on device;
large ones stream through tf.data. Importing this package does not import TensorFlow.
"""

from cutmix_jax.data.dataset import Dataset
from cutmix_jax.data.loader import SOURCE_FORMS
from cutmix_jax.data.loader import DataConfig
from cutmix_jax.data.loader import check_source_name
from cutmix_jax.data.loader import load_dataset
from cutmix_jax.data.memory import MAX_SIDE as IN_MEMORY_MAX_SIDE

__all__ = [
    'DataConfig',
    'Dataset',
    'IN_MEMORY_MAX_SIDE',
    'SOURCE_FORMS',
    'check_source_name',
    'load_dataset',
]
