"""`python -m cutmix_jax.train` and `cutmix-train`: the repo's `train.py`, with its flags, from any
install (`cutmix_jax.commands.train`)."""

from cutmix_jax import commands


def run() -> None:
  commands.start('train', 'training')


if __name__ == '__main__':
  run()
