"""Evaluation of trained runs: one module per measure, pictures and reports.

Every measure's per-batch work runs through `training.eval_driver`, the one loop over eval
batches (padding masked, sums over devices) with the eval-mode model (`EvalModel`), which the
trainer's per-epoch evaluation (`training.eval_accuracy`) uses too.
- `measure`: what a measure is (`Measure`) and what it gets (`Context`).
- the measures, one class each: `accuracy`, `localization` (with `cam`, the activation maps),
  `curves` (from `metrics.jsonl`), `occlusion`, `adversarial` (FGSM), `calibration`, `ood`,
  `corruptions`; `confidence` and `pixels` are what several of them share.
- `run`: the table of measures and the whole evaluation of a workdir; `workdir`: a workdir's
  config and restored checkpoints; `mixed_inputs`: mixed train batches to look at;
  `pictures`: image grids and figure helpers; `report`: `report.json` and the console table.

Training never imports this package.
Importing this package imports neither matplotlib nor TensorFlow.
"""
