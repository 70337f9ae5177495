"""The recipe `imagenet_resnet101` by path. It lives in the package,
`cutmix_jax/recipes/imagenet_resnet101.py`, which `--config=imagenet_resnet101`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.imagenet_resnet101 import get_config  # noqa: F401
