"""`python -m cutmix_jax.evaluate` and `cutmix-evaluate`: the repo's `evaluate.py`, with its
flags, from any install (`cutmix_jax.commands.evaluate`)."""

from cutmix_jax import commands


def run() -> None:
  commands.start('evaluate', 'evaluation')


if __name__ == '__main__':
  run()
