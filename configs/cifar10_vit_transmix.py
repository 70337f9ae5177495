"""The recipe `cifar10_vit_transmix` by path. It lives in the package,
`cutmix_jax/recipes/cifar10_vit_transmix.py`, which `--config=cifar10_vit_transmix`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.cifar10_vit_transmix import get_config  # noqa: F401
