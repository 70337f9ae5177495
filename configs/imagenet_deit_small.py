"""The recipe `imagenet_deit_small` by path. It lives in the package,
`cutmix_jax/recipes/imagenet_deit_small.py`, which `--config=imagenet_deit_small`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.imagenet_deit_small import get_config  # noqa: F401
