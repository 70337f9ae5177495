"""The recipe `cifar10_pyramidnet200` by path. It lives in the package,
`cutmix_jax/recipes/cifar10_pyramidnet200.py`, which `--config=cifar10_pyramidnet200`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.cifar10_pyramidnet200 import get_config  # noqa: F401
