"""The command-line programs (`train.py`, `evaluate.py` and their `python -m` entry points)."""

import importlib

from cutmix_jax import extras


def start(program: str, feature: str) -> None:
  """Runs `cutmix_jax.commands.<program>` after checking the `train` extra, so that an install of
  the ops alone says in one line what to install, before a flag is read or a file written (the
  program defines its flags as it is imported)."""
  extras.require('train', feature)
  importlib.import_module(f'cutmix_jax.commands.{program}').launch()
