"""Input pipelines: `load_dataset(DataConfig(...), ...)` gives a `Dataset` for a pmapped step.

Modules, from the top down:
- `loader`: `DataConfig` (`config.data`) and `load_dataset`, which assembles every source the
  same way: the split policy (`splits`), then in memory (`memory`) or streamed (`streaming`).
- sources, one module each, that only list and read (`source.Listing`): `cifar10_mini`,
  `shapes` and `textures` (with their `drawing` helpers), `folder`, `tfds_source`.
- `dataset`: the `Dataset` the loop gets; `layout`: which examples each process and step reads.
- `augment`: on-device crop, flip and normalization; `train_augment`: the train preprocessing in
  order, with DeiT's `rand_augment` and `random_erasing` and DeiT III's `three_augment`;
  `host_preprocess` and `tf_preprocess`: the host crops of streamed images; `image_files`:
  decoding one image file; `tensorflow_cpu`: TensorFlow, kept off the GPU.
Importing this package does not import TensorFlow.
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
