"""The recipe `imagenet_resnet50` by path. It lives in the package,
`cutmix_jax/recipes/imagenet_resnet50.py`, which `--config=imagenet_resnet50`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.imagenet_resnet50 import get_config  # noqa: F401
