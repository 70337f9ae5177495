"""Evaluation of trained runs: accuracy, class activation maps, localization, occlusion, pictures.

One job per module: `cam` (activation maps), `localization` (boxes from maps, IoU),
`occlusion` (perturbed inputs), `training_inputs` (mixed train batches to look at),
`checkpoints` (config and states of a workdir), `pictures` (matplotlib figures), `report` (JSON
and console tables), `run` (the whole evaluation of a run).
Importing this package imports neither matplotlib nor TensorFlow.
"""
