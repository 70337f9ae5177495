"""The documentation as a user meets it: every Python snippet of the README and of `docs/` runs as
printed (on eight devices), and the site builds with warnings as errors, its API reference
listing every public name with its docstring."""

import glob
import html
import os
import re
import subprocess
import sys

import pytest

import cutmix_jax

pytestmark = pytest.mark.slow  # every snippet run as a user would; the site built

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(REPO, 'README.md'), *sorted(glob.glob(os.path.join(REPO, 'docs', '*.md')))]


def _snippets():
  """`(page, snippet)` of every ```python block of the README and the docs pages."""
  found = []
  for page in PAGES:
    text = open(page, encoding='utf-8').read()
    found += [
        (os.path.relpath(page, REPO), s) for s in re.findall(r'```python\n(.*?)```', text, re.S)
    ]
  return found


def test_every_snippet_runs():
  snippets = _snippets()
  # the README's one; docs/ops.md's: the ops, the one-call Mixer, the primitive and a plug-in,
  # boxes, sharded jit, shard_map
  assert [page for page, _ in snippets].count('docs/ops.md') == 6 and len(snippets) >= 7
  env = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  for page, snippet in snippets:
    out = subprocess.run([sys.executable, '-c', snippet], capture_output=True, text=True,
                         timeout=300, check=False, env=env)  # fmt: skip
    assert out.returncode == 0, f'{page}:\n{snippet}\n{out.stderr}'
  ops = [snippet for page, snippet in snippets if page == 'docs/ops.md'][0]
  first = subprocess.run([sys.executable, '-c', ops], capture_output=True, text=True, timeout=300,
                         check=True)  # fmt: skip
  assert first.stdout.split()[0] == 'bfloat16'


def test_the_site_builds_and_its_api_reference_lists_every_public_name(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html', 'docs', str(tmp_path)],
      cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
  )  # fmt: skip
  assert out.returncode == 0, out.stderr[-3000:]
  api = (tmp_path / 'api.html').read_text(encoding='utf-8')
  text = ' '.join(html.unescape(re.sub(r'<[^>]+>', ' ', api)).split())
  text = re.sub(r'\s+([,.:;)])', r'\1', text).replace('( ', '(')
  for name in cutmix_jax.__all__:
    assert f'id="cutmix_jax.{name}"' in api, name
    value = getattr(cutmix_jax, name)
    if callable(value) and value.__doc__:  # its docstring's first words, as the page shows them
      first = re.split(r"['\"]", ' '.join(value.__doc__.replace('`', '').split()))[0]
      words = ' '.join(first.split()[:4])
      assert words in text, (name, words)
  for page in ('install', 'ops', 'training', 'data', 'evaluation', 'scaling', 'architecture'):
    assert (tmp_path / f'{page}.html').exists(), page
