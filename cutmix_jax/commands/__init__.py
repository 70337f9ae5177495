"""The command-line programs (`train.py`, `evaluate.py` and their `python -m` entry points)."""

import importlib

from cutmix_jax import extras
from cutmix_jax.commands import host_memory


def start(program: str, feature: str) -> None:
  """Runs `cutmix_jax.commands.<program>` after checking the `train` extra, so that an install of
  the ops alone says in one line what to install, before a flag is read or a file written (the
  program defines its flags as it is imported). On a CPU-only install the process keeps the
  memory it frees for reuse (`host_memory`: XLA:CPU's steps otherwise map their buffers anew)."""
  if host_memory.runs_on_cpu_only():
    host_memory.keep_freed_memory()
  extras.require('train', feature)
  importlib.import_module(f'cutmix_jax.commands.{program}').launch()
