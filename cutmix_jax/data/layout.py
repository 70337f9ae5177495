"""How global batches split over processes and devices, and which examples each step reads.

Batch sizes are global (all processes together). Every process computes the same global
schedule from `(seed, epoch)` and keeps its own slice of each global batch, so the order of a
run depends on nothing but the seed and the step: resuming at step s replays exactly the
batches an uninterrupted run sees from s on. Host batches are this process's rows `(B, ...)`;
the placement (`training/devices.py`) spreads them over the devices.
"""

import dataclasses
import math
from typing import Callable, Dict, Iterable, Iterator, Tuple

import jax
import numpy as np

Batch = Dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Layout:
  """Global batch sizes and where this process sits among all processes and devices.

  Attributes:
    batch_size: global train batch size.
    eval_batch_size: global eval batch size.
    process_index: this process, in `[0, process_count)`.
    process_count: number of processes (hosts).
    local_device_count: devices attached to this process.
    device_count: devices of all processes.
    repeats: each train example appears this many times in a row in the train order (repeated
      augmentation; 1: once), the copies on different devices.
  """

  batch_size: int
  eval_batch_size: int
  process_index: int = 0
  process_count: int = 1
  local_device_count: int = 1
  device_count: int = 1
  repeats: int = 1

  def __post_init__(self):
    for name in ('batch_size', 'eval_batch_size'):
      value = getattr(self, name)
      if not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f'{name} must be a positive integer; got {value!r}')
      if value % self.device_count:
        raise ValueError(
            f'{name}={value} is not divisible by the device count '
            f'{self.device_count}; use a multiple of {self.device_count}'
        )
      if (value // self.process_count) % self.local_device_count:
        raise ValueError(
            f'{name}={value} gives {value // self.process_count} per process, which is not '
            f'divisible by the local device count {self.local_device_count}'
        )

  @classmethod
  def from_jax(cls, batch_size: int, eval_batch_size: int, repeats: int = 1) -> 'Layout':
    """The layout of the running JAX processes and devices."""
    return cls(
        batch_size,
        eval_batch_size,
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
        repeats,
    )

  @property
  def process_batch_size(self) -> int:
    return self.batch_size // self.process_count

  @property
  def process_eval_batch_size(self) -> int:
    return self.eval_batch_size // self.process_count


def derived_seed(*parts: int) -> int:
  """A seed in `[0, 2**31)` derived from integers, e.g. `(seed, epoch, process_index)`."""
  return int(np.random.SeedSequence(list(parts)).generate_state(1)[0] & 0x7FFFFFFF)


def train_indices(layout: Layout, seed: int, epoch: int, num_examples: int) -> np.ndarray:
  """This process's example indices for every step of `epoch`, `(steps_per_epoch, B_process)`.

  One permutation of all examples per `(seed, epoch)`, cut into global batches (the remainder is
  dropped); the process keeps its slice of each. With `layout.repeats` = r > 1 (DeiT's repeated
  augmentation), the first N/r examples of the permutation each appear r times in a row, and
  each global batch is dealt to the devices like cards (device d takes rows d, d + D, ...), so
  the r copies of an example land on r different devices, as DeiT's sampler puts them on r
  different GPUs.
  """
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  steps = num_examples // layout.batch_size
  if layout.repeats > 1:
    order = np.repeat(order[: -(-num_examples // layout.repeats)], layout.repeats)
  global_batches = order[: steps * layout.batch_size].reshape(steps, layout.batch_size)
  if layout.repeats > 1:
    dealt = global_batches.reshape(steps, -1, layout.device_count).transpose(0, 2, 1)
    global_batches = dealt.reshape(steps, layout.batch_size)
  by_process = global_batches.reshape(steps, layout.process_count, layout.process_batch_size)
  return by_process[:, layout.process_index]


def resume_epochs(
    start_step: int, steps_per_epoch: int, epoch_batches: Callable[[int, int], Iterable[Batch]]
) -> Iterator[Batch]:
  """Chains `epoch_batches(epoch, first_step)` forever, starting inside the epoch of start_step."""
  if start_step < 0:
    raise ValueError(f'start_step must be >= 0; got {start_step}')
  epoch, first_step = divmod(start_step, steps_per_epoch)
  while True:
    yield from epoch_batches(epoch, first_step)
    epoch, first_step = epoch + 1, 0


def eval_shard(layout: Layout, num_examples: int) -> Tuple[int, int, int]:
  """This process's contiguous share of the eval examples and the batch count of every process.

  Returns:
    `(start, stop, num_batches)`: the process reads examples `[start, stop)`; all processes run
    the same `num_batches` (the largest share, padded up to whole batches).
  """
  if num_examples < layout.process_count:
    raise ValueError(
        f'the eval split has {num_examples} examples, fewer than the '
        f'{layout.process_count} processes'
    )
  start = layout.process_index * num_examples // layout.process_count
  stop = (layout.process_index + 1) * num_examples // layout.process_count
  largest_share = math.ceil(num_examples / layout.process_count)
  return start, stop, math.ceil(largest_share / layout.process_eval_batch_size)


def pad_batch(batch: Batch, size: int) -> Batch:
  """Zero-pads every array of `batch` to `size` rows and adds `mask`, False on the padding."""
  count = len(batch['label'])
  padded = {
      k: np.concatenate([v, np.zeros((size - count,) + v.shape[1:], v.dtype)])
      for k, v in batch.items()
  }
  padded['mask'] = np.arange(size) < count
  return padded


def padded_eval_batches(
    batches: Iterable[Batch], layout: Layout, num_batches: int
) -> Iterator[Batch]:
  """Pads this process's eval batches to full size and to `num_batches`.

  Every process must run the same number of eval steps (pmap collectives), so a process whose
  share ends early yields all-padding batches (mask False everywhere) until `num_batches`.
  """
  size = layout.process_eval_batch_size
  count = 0
  for batch in batches:
    empty = {k: v[:0] for k, v in batch.items()}
    count += 1
    yield pad_batch(batch, size)
  if count > num_batches:
    raise RuntimeError(f'eval share gave {count} batches, more than the {num_batches} planned')
  for _ in range(count, num_batches):
    yield pad_batch(empty, size)
