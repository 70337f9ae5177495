"""The package's layout: folders by role, imports that only run down, one error base, types."""

import ast
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import pytest

import cutmix_jax
from cutmix_jax.errors import UserError

PACKAGE = os.path.dirname(os.path.abspath(cutmix_jax.__file__))

# What each part of the package may import (besides itself): the entry points -> commands ->
# recipes -> evaluation -> training -> models, data -> ops; config, extras and the error base
# below all of them.
MAY_IMPORT = {
    'errors': set(),
    'extras': set(),
    'config': {'errors'},
    'ops': {'config', 'errors'},
    'data': {'config', 'errors', 'extras'},
    'models': {'ops', 'config', 'errors'},
    'training': {'models', 'data', 'ops', 'config', 'errors'},
    'evaluation': {'training', 'models', 'data', 'ops', 'config', 'errors'},
    'recipes': {'training', 'models', 'data', 'ops', 'config', 'errors'},
    'commands': {
        'recipes',
        'evaluation',
        'training',
        'models',
        'data',
        'ops',
        'config',
        'errors',
        'extras',
    },
    'train': {'commands'},
    'evaluate': {'commands'},
}


def _part(module: str) -> str:
  """'cutmix_jax.ops.boxes' -> 'ops'."""
  return module.split('.')[1]


def _modules():
  for info in pkgutil.walk_packages([PACKAGE], 'cutmix_jax.'):
    yield info.name


def _imports_of(path: str):
  """The cutmix_jax modules (or packages) a file imports, with their line numbers."""
  tree = ast.parse(open(path, encoding='utf-8').read())
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('cutmix_jax'):
      for alias in node.names:
        yield node.lineno, f'{node.module}.{alias.name}'
    elif isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.startswith('cutmix_jax.'):
          yield node.lineno, alias.name


def test_every_module_lives_in_a_role_folder():
  top = sorted(m for m in _modules() if m.count('.') == 1)
  assert top == [f'cutmix_jax.{part}' for part in sorted(MAY_IMPORT)]


def test_no_import_runs_back_up():
  wrong = []
  for module in _modules():
    spec = importlib.util.find_spec(module)
    for line, imported in _imports_of(spec.origin):
      target = imported.split('.')
      if len(target) < 2 or target[1] not in MAY_IMPORT:
        continue  # `from cutmix_jax import X` of a name, not a part
      source, part = _part(module), target[1]
      if part != source and part not in MAY_IMPORT[source]:
        wrong.append(f'{module}:{line} imports {imported}')
  assert not wrong, wrong


def test_a_wrong_import_is_caught(tmp_path):
  # The check above must be able to fail: an ops module that imports training is named.
  path = tmp_path / 'bad.py'
  path.write_text('from cutmix_jax.training import train_loop\n')
  (imported,) = [name for _, name in _imports_of(str(path))]
  assert imported.split('.')[1] == 'training' and 'training' not in MAY_IMPORT['ops']


@pytest.mark.parametrize(
    'module, absent',
    [
        ('cutmix_jax.training.run_config', 'orbax'),  # the config checks need no orbax
        ('cutmix_jax', 'tensorflow'),
    ],
)
def test_importing_loads_only_what_it_needs(module, absent):
  code = f'import sys, {module}; print(any(m.startswith({absent!r}) for m in sys.modules))'
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == 'False'


def test_the_command_line_module_does_nothing_when_imported():
  # No flag defined, no argv read: importing it with nonsense arguments is harmless.
  code = (
      'import sys; sys.argv = ["x", "--config=/nonexistent.py", "--nosuch"]\n'
      'from absl import flags\n'
      'from cutmix_jax.commands import command_line\n'
      'print("config" in flags.FLAGS)'
  )
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == 'False'


PROGRAMS = ('cutmix_jax.commands.train', 'cutmix_jax.commands.evaluate')  # define flags on import


def _error_classes():
  for module in set(_modules()) - set(PROGRAMS):
    for _, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
      if issubclass(cls, Exception) and cls.__module__.startswith('cutmix_jax'):
        yield cls


def test_every_error_of_the_package_is_a_user_error():
  classes = set(_error_classes()) - {UserError}
  assert len(classes) >= 8
  assert all(issubclass(cls, UserError) for cls in classes), classes


def test_the_package_ships_its_types():
  assert os.path.isfile(os.path.join(PACKAGE, 'py.typed'))


def test_the_version_has_one_source_and_the_metadata_says_what_the_project_is():
  import importlib.metadata

  pyproject = open(
      os.path.join(os.path.dirname(PACKAGE), 'pyproject.toml'), encoding='utf-8'
  ).read()
  assert 'dynamic = ["version"]' in pyproject and '\nversion = "' not in pyproject
  metadata = importlib.metadata.metadata('cutmix_jax')
  assert metadata['Version'] == cutmix_jax.__version__
  assert 'Topic :: Scientific/Engineering :: Image Recognition' in metadata.get_all('Classifier')
  assert any('clovaai/CutMix-PyTorch' in url for url in metadata.get_all('Project-URL'))
