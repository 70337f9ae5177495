"""The optional installs (`pyproject.toml`'s extras), and the one line that says which is missing.

`pip install cutmix_jax` is the ops alone (jax and numpy); training and evaluation need the
`train` extra, `tfds:` sources and the tf.data pipeline the `tfds` extra, a `gs://` workdir the
`gcs` extra (or TensorFlow's file system, of the `tfds` extra). A command checks its extra before
it reads a flag or writes a file.
"""

import importlib.util
import sys
from typing import Tuple

# extra -> the top-level modules it brings that its features import
MODULES = {
    'train': (
        'absl',
        'flax',
        'optax',
        'orbax.checkpoint',
        'ml_collections',
        'PIL',
        'simplejpeg',
        'matplotlib',
        'scipy',
        'tqdm',
        'tensorboard',
        'grain',
    ),
    'gcs': ('gcsfs',),
}


def install_line(extra: str) -> str:
  """The command that installs `extra`, from PyPI and in a clone."""
  return f"pip install 'cutmix_jax[{extra}]' (in a clone: pip install -e '.[{extra}]')"


def missing(extra: str) -> Tuple[str, ...]:
  """The modules of `extra` that are not installed."""
  absent = []
  for name in MODULES[extra]:
    try:
      found = importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is absent
      found = False
    if not found:
      absent.append(name)
  return tuple(absent)


def require_bucket_support(workdir: str) -> None:
  """Stops with one line if `workdir` is in a Cloud Storage bucket that nothing installed can
  reach (gcsfs, or TensorFlow's file system)."""
  if workdir.startswith('gs://') and importlib.util.find_spec('tensorflow') is None:
    require('gcs', 'a gs:// workdir')


def require(extra: str, feature: str) -> None:
  """Stops with one `error:` line naming what to install if `extra` is not (fully) installed."""
  absent = missing(extra)
  if absent:
    sys.exit(
        f'error: {feature} needs the {extra} extra ({", ".join(absent)} not installed): '
        f'{install_line(extra)}'
    )
