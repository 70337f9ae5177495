"""The recipe `cifar10_vit_deit` by path. It lives in the package,
`cutmix_jax/recipes/cifar10_vit_deit.py`, which `--config=cifar10_vit_deit`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.cifar10_vit_deit import get_config  # noqa: F401
