"""The training loop: `train_and_evaluate(config, workdir)` trains, evaluates, checkpoints, resumes.

Everything random depends only on `(config.seed, step)`, so a run that is interrupted and resumed
ends with the same parameters, bit for bit, as one that was not.
"""

import contextlib
import dataclasses
import json
import signal
import time
from typing import Optional

import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
from tqdm import tqdm

from cutmix_jax.config import files
from cutmix_jax.config import history
from cutmix_jax.config import storage
from cutmix_jax.config import workdir_files
from cutmix_jax.ops import mix_config
from cutmix_jax.training import checkpointing
from cutmix_jax.training import devices
from cutmix_jax.training import eval_accuracy
from cutmix_jax.training import profiling
from cutmix_jax.training import progress as progress_lib
from cutmix_jax.training import run_builder
from cutmix_jax.training.checkpointing import Checkpointer
from cutmix_jax.training.metric_log import MetricLog
from cutmix_jax.training.step_metrics import NonFiniteLossError
from cutmix_jax.training.step_metrics import StepMetrics
from cutmix_jax.training.train_state import TrainState
from cutmix_jax.training.workdir_lock import WorkdirLock


@dataclasses.dataclass
class TrainResult:
  """What a run ends with.

  Attributes:
    state: the host train state.
    step: the step it reached.
    progress: the best eval error and where it was reached (and the epoch sums).
    last_epoch: the scalars logged at the end of the last finished epoch of this call (its
      `epoch_train_loss`, and the eval errors if it evaluated); empty if none finished.
    stopped_by: the signal that stopped the run early, or None.
  """

  state: TrainState
  step: int
  progress: progress_lib.Progress
  last_epoch: dict
  stopped_by: Optional[str]


class StopSignals:
  """Turns SIGTERM / SIGINT into a flag that the loop checks between steps (then saves, exits 0)."""

  def __init__(self):
    self.received: Optional[str] = None
    self._previous = {}

  def _handle(self, signum, _frame):
    self.received = signal.Signals(signum).name

  def __enter__(self):
    for signum in (signal.SIGTERM, signal.SIGINT):
      self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)


class Trainer:
  """One training run: the built run (data, model, compiled steps), its checkpoints and logs."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    self.workdir, self.given_config = workdir, config  # config.json holds what was given
    self.is_main = jax.process_index() == 0
    self.built = run_builder.build_run(config)
    self.config = self.built.config
    self.dataset = self.built.dataset
    self.steps_per_epoch = self.built.steps_per_epoch
    self.total_steps = self.built.total_steps
    self.checkpointer = Checkpointer(
        workdir_files.checkpoints_dir(workdir), self.config.keep_checkpoints
    )
    self.log = MetricLog(workdir, enabled=self.is_main)
    self.metrics = StepMetrics()
    self.progress = progress_lib.Progress()
    self.profile = profiling.ProfileWindow(
        self.config.profile_steps, workdir_files.profile_dir(workdir), self.is_main
    )

  def say(self, message: str) -> None:
    if self.is_main:
      tqdm.write(message)

  def restore_or_init(self):
    """The newest checkpoint of the workdir that restores, else the fresh state.

    Steps that fail to restore are moved aside (one line each); metric rows past the restored
    step are cut, since the steps after it run again.
    """
    initial = self.built.initial_state()
    template = self.built.placement.state_template(initial)
    restored = self.checkpointer.restore_newest(template, self.say)
    if restored is None:
      self.log.start_fresh(self.say)
      return initial
    step, state, saved = restored
    self.progress = progress_lib.Progress.from_json(saved)
    self.metrics.resume(self.progress)
    self.log.cut_after(step)
    self.say(f'Resuming from the checkpoint at step {step} in {self.checkpointer.directory}')
    trained_on, devices_now = self.progress.device_count, jax.device_count()
    if trained_on not in (None, devices_now):
      per_device = self.config.batch_norm == 'device'
      statistics = "BatchNorm's per-device statistics, " if per_device else ''
      self.say(
          f'This run trained on {trained_on} devices and resumes on {devices_now}: from step '
          f'{step} each device holds {self.config.batch_size // devices_now} images, so '
          f"{statistics}each device's random draws (and partners='device' mixing) change; it is "
          'no longer the run it would have been'
      )
    return state

  def read_metrics(self, step: int) -> None:
    """Reads the pending step metrics back from the devices (one sync); checks the loss.

    Raises:
      NonFiniteLossError: worded with what was kept (the last good checkpoint, if any).
    """
    try:
      self.metrics.read_back(step)
    except NonFiniteLossError as error:
      last = self.checkpointer.latest_step()
      directory = self.checkpointer.directory
      kept = (
          f'the last good checkpoint (step {last}) in {directory} is intact'
          if last is not None
          else f'no checkpoint has been saved yet in {directory}'
      )
      raise NonFiniteLossError(error.step, error.value, kept) from None

  def save(self, state, step: int, metrics: Optional[dict] = None) -> None:
    """Saves a checkpoint of `step` (with its eval `metrics`, for keeping the best one)."""
    self.read_metrics(step)  # never save a state whose loss went non-finite
    self.metrics.save_into(self.progress)
    self.progress.device_count = jax.device_count()
    saved = self.built.placement.saved_state(state)
    self.checkpointer.save(step, saved, self.progress.to_json(), metrics)
    self.log.persist()  # a bucket's rows, up to the checkpoint that a resume starts from

  def stop_agreed(self, stop: StopSignals, step: int) -> bool:
    """Whether to stop before `step`: this process's signal, or, with several processes, any
    process's, agreed at the sync points (every `log_every_steps`) so all stop at one step."""
    if jax.process_count() == 1:
      return stop.received is not None
    if step % self.config.log_every_steps:
      return False
    flags = multihost_utils.process_allgather(np.int32(stop.received is not None))
    return bool(np.any(flags))

  def train_epoch(self, state, batches, step: int, end: int, stop: StopSignals):
    """Runs steps `step..end-1` with a progress bar; returns `(state, step)` where it stopped."""
    config, epoch = self.config, step // self.steps_per_epoch
    bar = tqdm(
        total=end - epoch * self.steps_per_epoch,
        initial=step - epoch * self.steps_per_epoch,
        desc=f'epoch {epoch + 1}/{-(-self.total_steps // self.steps_per_epoch)}',
        disable=not (self.is_main and config.progress_bar),
        leave=False,
        unit='step',
    )
    last_time, last_step = time.perf_counter(), step
    while step < end and not self.stop_agreed(stop, step):
      self.profile.before(step)
      state, metrics = self.built.train_step(state, next(batches))
      self.metrics.add(metrics)
      step += 1
      self.profile.after(step, state)
      bar.update(1)
      if step % config.log_every_steps == 0 or step == end:
        self.read_metrics(step)
        scalars = self.metrics.take_row()
        now = time.perf_counter()
        scalars['images_per_second'] = (step - last_step) * config.batch_size / (now - last_time)
        last_time, last_step = now, step
        self.log.write(step, step / self.steps_per_epoch, scalars)
        bar.set_postfix(
            loss=f'{scalars["train_loss"]:.4f}',
            lr=f'{scalars["learning_rate"]:.4g}',
            img_s=f'{scalars["images_per_second"]:.0f}',
        )
      every = config.checkpoint_every_steps
      if progress_lib.extra_save_due(step, every_steps=every, epoch_end=end):
        self.save(state, step)
    bar.close()
    return state, step

  def end_epoch(self, state, step: int, seconds: float) -> dict:
    """Every `eval_every_epochs` epochs and at the end: evaluates, tracks the best top-1 error
    and saves. Every epoch: logs one line."""
    epoch = step // self.steps_per_epoch
    due = progress_lib.eval_due(
        step,
        steps_per_epoch=self.steps_per_epoch,
        eval_every_epochs=self.config.eval_every_epochs,
        total_steps=self.total_steps,
    )
    scalars = {}
    if due:
      scalars = eval_accuracy.evaluate(self.built.evaluator, state)
      self.progress.record_eval(scalars['eval_top1_error'], step, epoch)
      scalars['best_eval_top1_error'] = self.progress.best_eval_top1_error
    self.read_metrics(step)
    train_loss = self.metrics.take_epoch_loss()
    scalars['epoch_train_loss'] = train_loss
    self.log.write(step, epoch, scalars)
    evaluated = (
        f'  eval top-1 {scalars["eval_top1_error"]:6.2f}%  top-5 '
        f'{scalars["eval_top5_error"]:6.2f}%  best top-1 '
        f'{self.progress.best_eval_top1_error:6.2f}% (epoch {self.progress.best_epoch})'
        if due
        else ''
    )
    self.say(f'epoch {epoch:3d}  train loss {train_loss:.4f}{evaluated}  [{seconds:.0f} s]')
    if due:
      self.save(state, step, {checkpointing.BEST_METRIC: scalars['eval_top1_error']})
    return scalars

  def run(self, change: Optional[history.Change] = None) -> TrainResult:
    """Trains to the end (or to a stop signal) from the workdir's latest checkpoint if any.

    The workdir's `config.json` (and an allowed `change` of it) is written once the state
    restored or started fresh, so a config that its checkpoints refuse changes nothing."""
    state = self.restore_or_init()
    if change is not None and self.is_main:
      change.keep(self.say)
    save_config(self.given_config, self.workdir)
    step = int(state.step)
    placement = self.built.placement
    state = placement.put_state(state)
    batches = devices.prefetched(placement, self.dataset.train_batches(step))
    last_epoch, stopped_by = {}, None
    with StopSignals() as stop:
      while step < self.total_steps:
        start = time.perf_counter()
        end = min((step // self.steps_per_epoch + 1) * self.steps_per_epoch, self.total_steps)
        state, step = self.train_epoch(state, batches, step, end, stop)
        if step < end:  # stopped by a signal (here, or in another process)
          if self.checkpointer.latest_step() != step:  # an epoch end may have saved it already
            self.save(state, step)  # the steps since the last log point go into its progress
          stopped_by = stop.received or 'a signal to another process'
          self.say(
              f'Stopped by {stopped_by} at step {step}; checkpoint saved in '
              f'{self.checkpointer.directory}. Run the same command again to resume.'
          )
          break
        last_epoch = self.end_epoch(state, step, time.perf_counter() - start)
    self.profile.stop(state)  # a window past the end of training, or cut short by a signal
    self.checkpointer.close()
    self.log.close()
    return TrainResult(placement.first(state), step, self.progress, last_epoch, stopped_by)


def save_config(config, workdir: str) -> None:
  """Replaces `WORKDIR/config.json` by the resolved config (process 0 only), whole."""
  if jax.process_index() != 0:
    return
  text = json.dumps(files.as_json(config), indent=2, sort_keys=True)
  storage.write_atomic(workdir_files.config_path(workdir), text)


def _unread_mix_fields(old: dict, new: dict) -> set:
  """The `mix.*` keys that neither the old run's method nor the new one reads (a workdir of a
  CutMix run resumes although FMix's settings were added or changed since)."""
  methods = (c.get('mix', {}).get('method', '') for c in (old, new))
  unused = [set(mix_config.unused_fields(m)) for m in methods]
  return {f'mix.{name}' for name in unused[0] & unused[1]}


def train_and_evaluate(config, workdir: str, allow_config_change: bool = False) -> TrainResult:
  """Trains `config` in `workdir`, resuming from its latest checkpoint if there is one.

  Process 0 holds the workdir's lock while it trains (`workdir_lock`).

  Raises:
    WorkdirInUseError: when a live run trains in `workdir`; nothing is touched then.
    ConfigChangeError: when resuming with run-shaping settings other than the workdir's (unless
      `allow_config_change`); nothing in the workdir is touched then.
  """
  say = lambda line: tqdm.write(line) if jax.process_index() == 0 else None
  lock = WorkdirLock(workdir, say) if jax.process_index() == 0 else contextlib.nullcontext()
  with lock:
    saved = checkpointing.saved_steps(workdir_files.checkpoints_dir(workdir))
    change = None
    if saved:
      change = history.check_resume(
          config, workdir, saved[-1], allow_config_change, unread=_unread_mix_fields
      )
    return Trainer(config, workdir).run(change)
