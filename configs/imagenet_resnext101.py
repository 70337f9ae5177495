"""The recipe `imagenet_resnext101` by path. It lives in the package,
`cutmix_jax/recipes/imagenet_resnext101.py`, which `--config=imagenet_resnext101`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.imagenet_resnext101 import get_config  # noqa: F401
