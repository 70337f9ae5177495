"""Evaluation of trained runs: one driver, one module per measure, pictures and reports.

- `driver`: the one loop over eval batches (padding masked, sums over devices) that every
  measure's per-batch work runs through, with the eval-mode model (`EvalModel`).
- `measure`: what a measure is (`Measure`) and what it gets (`Context`).
- the measures, one class each: `accuracy`, `localization` (with `cam`, the activation maps),
  `curves` (from `metrics.jsonl`), `occlusion`, `adversarial` (FGSM), `calibration`, `ood`,
  `corruptions`; `confidence` and `pixels` are what several of them share.
- `run`: the table of measures and the whole evaluation of a workdir; `workdir`: a workdir's
  config and restored checkpoints; `training_inputs`: mixed train batches to look at;
  `pictures`: image grids and figure helpers; `report`: `report.json` and the console table.

The training loop imports `accuracy` (its per-epoch evaluation); nothing here imports the loop.
Importing this package imports neither matplotlib nor TensorFlow.
"""
