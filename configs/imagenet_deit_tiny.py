"""The recipe `imagenet_deit_tiny` by path. It lives in the package,
`cutmix_jax/recipes/imagenet_deit_tiny.py`, which `--config=imagenet_deit_tiny`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.imagenet_deit_tiny import get_config  # noqa: F401
