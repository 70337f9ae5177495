"""The recipes that ship with the package, each a config file with a `get_config()`.

`--config=NAME` names one (`path`), from a wheel as from a clone; `configs/` at the repo root
holds the same recipes by path (`--config=configs/NAME.py`). A recipe derives from another by
path (`files.load('default.py', relative_to=__file__)`).
"""

import os
from typing import Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
NAMES: Tuple[str, ...] = tuple(
    sorted(f[:-3] for f in os.listdir(_HERE) if f.endswith('.py') and not f.startswith('_'))
)


def path(name: str) -> str:
  """The file of recipe `name`.

  Raises:
    ValueError: one line with the recipes' names, for a name that is none of them.
  """
  if name not in NAMES:
    raise ValueError(f'no recipe {name!r}; the recipes: {", ".join(NAMES)}')
  return os.path.join(_HERE, f'{name}.py')
