"""What a run is built from its config: the dataset and the model (training and evaluation)."""

from cutmix_jax import config_checks
from cutmix_jax import data
from cutmix_jax import models


def load_run_dataset(config) -> data.Dataset:
  """The dataset of `config.data`, with the batch sizes and seed of the run.

  Raises:
    ConfigError: one line, for a bad path, file or size (the user's to fix).
  """
  try:
    return data.load_dataset(
        data.DataConfig(**config.data),
        batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size,
        seed=config.seed,
    )
  except (ValueError, OSError) as error:
    raise config_checks.ConfigError(
        f'config.data.source={config.data.source!r}: {error}'
    ) from error


def build_model(config, num_classes: int):
  return models.get_model(config.model, num_classes, dtype=config_checks.DTYPES[config.dtype])
