"""The recipe `imagenet_deit_base` by path. It lives in the package,
`cutmix_jax/recipes/imagenet_deit_base.py`, which `--config=imagenet_deit_base`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.imagenet_deit_base import get_config  # noqa: F401
