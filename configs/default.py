"""The recipe `default` by path. It lives in the package,
`cutmix_jax/recipes/default.py`, which `--config=default`
names from any install: see it for what the recipe trains."""

from cutmix_jax.recipes.default import get_config  # noqa: F401
