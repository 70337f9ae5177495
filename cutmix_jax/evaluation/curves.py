"""A run's training curves from its `metrics.jsonl`: eval top-1 error and train loss per epoch.

They show the paper's claim in one picture: a baseline that memorizes its training images (train
loss towards 0) while its eval error stalls, against CutMix, whose mixed targets cannot be
memorized and whose eval error keeps falling.
"""

from cutmix_jax import metric_log


def of_workdir(workdir: str, label: str) -> dict:
  """`{'epoch', 'train_loss', 'eval_epoch', 'eval_top1_error', 'label'}` of a training workdir.

  `epoch` / `train_loss` hold every finished epoch's mean train loss, `eval_epoch` /
  `eval_top1_error` every evaluation; `label` groups runs in the figure (their mix method). A
  workdir without logged epochs gives `{'skipped': reason}`.
  """
  rows = metric_log.read_rows(workdir)
  epochs = [r for r in rows if 'epoch_train_loss' in r]
  if not epochs:
    return {'skipped': f'{workdir} has no metrics.jsonl rows of finished epochs'}
  evaluated = [r for r in epochs if 'eval_top1_error' in r]
  return {
      'epoch': [r['epoch'] for r in epochs],
      'train_loss': [r['epoch_train_loss'] for r in epochs],
      'eval_epoch': [r['epoch'] for r in evaluated],
      'eval_top1_error': [r['eval_top1_error'] for r in evaluated],
      'label': label,
  }
