"""What every measure of a trained run is: one class per module, walked by `run.py`.

A measure (big_vision's evaluators, without their registry) declares its per-batch work (a pure
function it hands to the `eval_driver.Evaluator`), its summary (the JSON-ready dict it returns), its
figure (the runs side by side, or None) and its rows of the console table. Adding one is a
module with such a class, and a line in `run.MEASURES`.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Protocol, Sequence

from cutmix_jax import data
from cutmix_jax.evaluation import workdir as workdir_lib
from cutmix_jax.training import eval_driver
from cutmix_jax.training.run_config import RunConfig


@dataclasses.dataclass
class Context:
  """What a measure of one run gets.

  Attributes:
    config: the run's checked config.
    workdir: the training workdir.
    out_dir: where the run's evaluation files go (`WORKDIR/eval`).
    dataset: the run's dataset.
    evaluator: the loop over its eval split.
    best: the best checkpoint (lowest eval error), the one most measures use, its state
      on the devices (`run.placement.put_state`).
    last: the newest checkpoint, likewise.
    pictures: per-run pictures written so far, name -> path (a measure may add its own).
  """

  config: RunConfig
  workdir: str
  out_dir: str
  dataset: data.Dataset
  evaluator: eval_driver.Evaluator
  best: workdir_lib.Restored
  last: workdir_lib.Restored
  pictures: Dict[str, str] = dataclasses.field(default_factory=dict)

  @property
  def chance(self) -> float:
    """Top-1 accuracy (%) of guessing."""
    return 100.0 / self.dataset.num_classes

  def path(self, file_name: str) -> str:
    return os.path.join(self.out_dir, file_name)


class Measure(Protocol):
  """One measure: `name` is its key in `report.json`; `title` its progress line."""

  name: str
  title: str

  def measure(self, context: Context) -> dict:
    """The JSON-ready summary of the run."""

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> Optional[str]:
    """Draws the summaries of one or more runs (run name -> summary) to `path`; returns it, or
    None for a measure without a figure."""

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    """Console lines of this measure for the reports side by side (empty: none)."""
