"""Trains a CutMix model: `python train.py [--config=FILE|RECIPE] [--workdir=DIR] [--config.K=V]`.

The same program as `python -m cutmix_jax.train` and `cutmix-train`; `cutmix_jax/commands/train.py`
says what it does. With no flags it trains the `default` recipe into `runs/default`.
"""

from cutmix_jax import train

if __name__ == '__main__':
  train.run()
