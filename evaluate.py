"""Evaluates trained runs: `python evaluate.py --workdir=DIR [--compare=DIR2] [--config.k=v ...]`.

The same program as `python -m cutmix_jax.evaluate` and `cutmix-evaluate`;
`cutmix_jax/commands/evaluate.py` says what it does and which measures it writes.
"""

from cutmix_jax import evaluate

if __name__ == '__main__':
  evaluate.run()
