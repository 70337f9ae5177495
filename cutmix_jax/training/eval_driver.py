"""The one loop over eval batches that every measure runs through.

A measure states its per-batch work as a pure function `work(model, batch, key, *args)` that
returns per-example values `{name: (B, ...)}` for one device's share of a batch: `model` is the
eval-mode forward pass of the checkpoint (`EvalModel`), `batch` holds uint8 'image', 'label' and
'mask' (False on padding) and whatever else the batches carry, `key` is a key of this batch and
device. The `Evaluator` compiles the work with the run's placement (`devices`: a mesh or pmap)
and either sums the values over the real examples of
every device (`sums`: padding masked, summed over all devices of all processes) or hands the
real examples' values to the host, batch by batch (`rows`: this process's examples).
"""

import dataclasses
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from cutmix_jax.data import augment
from cutmix_jax.training import devices
from cutmix_jax.training.devices import AXIS
from cutmix_jax.training.train_state import TrainState

Values = Dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class EvalModel:
  """The eval-mode model of a state, inside a traced per-batch function.

  Attributes:
    state: a TrainState (`apply_fn`, `params`, `batch_stats`).
    preprocess: the dataset's `eval_preprocess` (uint8 images -> normalized float32 input).
    mean: per-channel mean of the input normalization, on the [0, 1] scale.
    std: its standard deviation.
  """

  state: TrainState
  preprocess: Callable
  mean: Tuple[float, ...]
  std: Tuple[float, ...]

  def inputs(self, images) -> jax.Array:
    """The model's input (normalized float32) of uint8 images `(N, H, W, C)`."""
    return self.preprocess(images)

  def logits_of_inputs(self, inputs, **kwargs):
    """Logits `(N, K)` of model inputs; `kwargs` go to `apply` (e.g. `mutable`)."""
    variables = {'params': self.state.params, 'batch_stats': self.state.batch_stats}
    return self.state.apply_fn(variables, inputs, train=False, **kwargs)

  def logits(self, images) -> jax.Array:
    """Logits `(N, K)` of uint8 images as the dataset gives them."""
    return self.logits_of_inputs(self.inputs(images))

  def logits_of_unit(self, unit_images) -> jax.Array:
    """Logits of `[0, 1]` float images (where perturbations are defined)."""
    return self.logits_of_inputs(augment.normalize(unit_images, self.mean, self.std, pixel_max=1.0))

  def logits_and_features(self, images) -> Tuple[jax.Array, jax.Array]:
    """`(logits (N, K), final feature map (N, h, w, c))` of uint8 images (the model sows its
    features as `intermediates/features`)."""
    logits, collections = self.logits_of_inputs(self.inputs(images), mutable=['intermediates'])
    (features,) = collections['intermediates']['features']
    return logits, features


def _masked_sum(values: Values, mask) -> Values:
  """Sums of each value `(B, ...)` over the rows where `mask (B,)` is True, then over devices."""

  def total(value):
    keep = mask.reshape(mask.shape + (1,) * (value.ndim - 1))
    return jnp.sum(jnp.where(keep, value, 0), axis=0)

  sums = jax.tree.map(total, values)
  sums['count'] = jnp.sum(mask.astype(jnp.int32))
  return jax.lax.psum(sums, AXIS)


def _per_device_key(key, batch_index):
  return jax.random.fold_in(jax.random.fold_in(key, batch_index), jax.lax.axis_index(AXIS))


class Evaluator:
  """Runs per-batch work over a dataset's eval split (or other batches) with a state on the
  devices (`placement.put_state`).

  Args:
    dataset: a `cutmix_jax.data.Dataset` (its eval batches and its normalization).
    placement: how the work spans the devices (`devices.placement`); a mesh if None.
    progress_bar: a bar over the batches of each pass (on the first process): a measure such
      as the corruptions passes over the eval split several times and may take minutes.
    num_eval_batches: the batch count of a pass over the eval split, for the bar's total.
  """

  def __init__(
      self,
      dataset,
      placement=None,
      progress_bar: bool = False,
      num_eval_batches: Optional[int] = None,
  ):
    self.dataset = dataset
    self.placement = placement or devices.placement()
    self.progress_bar = progress_bar
    self.num_eval_batches = num_eval_batches
    self._compiled = {}

  def _compiled_work(self, work: Callable, reduce: bool, num_args: int) -> Callable:
    """`work` compiled by the placement, once per (work, reduce) and kept for later calls."""
    cache_key = (work, reduce, num_args)
    if cache_key not in self._compiled:
      facts = (self.dataset.eval_preprocess, self.dataset.mean, self.dataset.std)

      def per_device(state, batch, key, batch_index, *args):
        # The barrier makes the state a finished input in both placements: without it XLA fuses
        # BatchNorm's per-channel factors around pmap's unit device axis otherwise than on the
        # mesh, and logits differ in their last bit.
        model = EvalModel(jax.lax.optimization_barrier(state), *facts)
        values = work(model, batch, _per_device_key(key, batch_index), *args)
        return _masked_sum(values, batch['mask']) if reduce else values

      kinds = (devices.STATE, devices.BATCH, devices.WHOLE, devices.WHOLE)
      self._compiled[cache_key] = self.placement.compile(
          per_device, kinds + (devices.WHOLE,) * num_args, rows_out=not reduce
      )
    return self._compiled[cache_key]

  def _batches(self, batches: Optional[Iterable]) -> Iterable:
    """The batches of one pass (the eval split's if None), behind a progress bar if asked (with
    its total for the eval split; other batches come from generators of unknown length)."""
    total = self.num_eval_batches if batches is None else None
    batches = self.dataset.eval_batches() if batches is None else batches
    show = self.progress_bar and jax.process_index() == 0
    return tqdm(batches, total=total, disable=not show, leave=False, unit='batch', desc='eval')

  def sums(
      self,
      work: Callable,
      state,
      *args,
      batches: Optional[Iterable] = None,
      seed: int = 0,
  ) -> Tuple[Dict[str, np.ndarray], int]:
    """`(totals, count)`: each value of `work` summed over every real example, and their number.

    Args:
      work: `work(model, batch, key, *args) -> {name: (B, ...)}`, pure.
      state: the TrainState on the devices (`placement.put_state`).
      *args: arrays or pytrees that every device gets whole (not per batch).
      batches: host batches `(B, ...)` with a 'mask'; the eval split if None.
      seed: seed of the per-batch keys.
    """
    step = self._compiled_work(work, True, len(args))
    totals, key = None, jax.random.key(seed)
    for index, batch in enumerate(self._batches(batches)):
      on_devices = self.placement.put_batch(batch)
      sums = self.placement.first(step(state, on_devices, key, index, *args))
      totals = sums if totals is None else jax.tree.map(np.add, totals, sums)
    count = int(totals.pop('count'))
    return totals, count

  def rows(
      self,
      work: Callable,
      state,
      *args,
      batches: Optional[Iterable] = None,
      keep: Sequence[str] = (),
      seed: int = 0,
  ) -> Iterator[Dict[str, np.ndarray]]:
    """Per batch, the values of `work` for this process's real examples, as host arrays `(n, ...)`.

    Args:
      work, state, args, batches, seed: as `sums`.
      keep: fields of the batch to hand on beside the values (e.g. 'label', 'image').
    """
    step = self._compiled_work(work, False, len(args))
    key = jax.random.key(seed)
    for index, batch in enumerate(self._batches(batches)):
      on_devices = self.placement.put_batch(batch)
      values = self.placement.host_rows(step(state, on_devices, key, index, *args))
      rows = {**values, **{name: batch[name] for name in keep}}
      yield valid_rows(rows, batch['mask'])


def valid_rows(values: Dict[str, np.ndarray], mask) -> Dict[str, np.ndarray]:
  """Host arrays `(B, ...)` without their padding rows (`mask` False)."""
  keep = np.asarray(mask)
  return {k: np.asarray(v)[keep] for k, v in values.items()}


def all_rows(row_batches: Iterable[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
  """The rows of every batch, concatenated."""
  batches = list(row_batches)
  return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
