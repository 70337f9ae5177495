"""A run's training curves from its `metrics.jsonl`: eval top-1 error and train loss per epoch.

They show the paper's claim in one picture: a baseline that memorizes its training images (train
loss towards 0) while its eval error stalls, against CutMix, whose mixed targets cannot be
memorized and whose eval error keeps falling.
"""

from typing import Dict, List, Sequence

from cutmix_jax.training import metric_log

_MARKED_UP_TO = 30  # train-loss curves of at most this many epochs show their points
_LINE_STYLES = ('-', '--', ':', '-.')


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


class Curves:
  """The run's training curves (needs no checkpoint); runs side by side in one figure."""

  name = 'curves'
  title = 'training curves from metrics.jsonl'
  flag_help = None  # always drawn: it costs nothing

  def measure(self, context) -> dict:
    method = context.config.mix.method
    return of_workdir(context.workdir, 'no mixing' if method == 'none' else method)

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> str:
    """Eval top-1 error and train loss against epoch, one line per run.

    Runs with the same `label` (mix method) share a colour and differ in line style, so seeds of
    one method read as one family.
    """
    del chance
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    figure = pictures.new_figure((10, 3.8))
    error_ax, loss_ax = figure.subplots(1, 2)
    colours, seen = {}, {}
    for name, curves in by_run.items():
      label = curves['label']
      colour = colours.setdefault(label, f'C{len(colours)}')
      style = _LINE_STYLES[seen.get(label, 0) % len(_LINE_STYLES)]
      seen[label] = seen.get(label, 0) + 1
      line = dict(color=colour, linestyle=style, label=f'{name} ({label})')
      x, y = curves['eval_epoch'], curves['eval_top1_error']
      error_ax.plot(x, y, marker='o', markersize=3, **line)
      few = len(curves['epoch']) <= _MARKED_UP_TO  # a short run: its points, not only a line
      loss_ax.plot(curves['epoch'], curves['train_loss'], marker='o' if few else None,
                   markersize=3, **line)  # fmt: skip
    error_ax.set(title='Eval top-1 error', xlabel='epoch', ylabel='top-1 error (%)')
    loss_ax.set(title='Train loss (epoch mean)', xlabel='epoch', ylabel='loss', ylim=(0, None))
    for ax in (error_ax, loss_ax):
      ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    return pictures.save(figure, path)

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    del reports
    return []
