"""The README's "Use the ops in your own code" snippets run as printed, on eight devices."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every snippet of the README, run as a user would

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _snippets():
  readme = open(os.path.join(REPO, 'README.md'), encoding='utf-8').read()
  section = readme.split('## Use the ops in your own code', 1)[1].split('\n## ', 1)[0]
  return re.findall(r'```python\n(.*?)```', section, re.S)


def test_readme_snippets_run():
  snippets = _snippets()
  # the ops, the one-call Mixer, the primitive and a plug-in, boxes, sharded jit, shard_map
  assert len(snippets) == 6
  env = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  for snippet in snippets:
    out = subprocess.run(
        [sys.executable, '-c', snippet],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr
  first = subprocess.run(
      [sys.executable, '-c', snippets[0]], capture_output=True, text=True, timeout=300, check=True
  )
  assert first.stdout.split()[0] == 'bfloat16'
