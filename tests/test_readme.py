"""The README's "Use the ops in your own code" snippet runs as printed."""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_snippet_runs():
  readme = open(os.path.join(REPO, 'README.md'), encoding='utf-8').read()
  section = readme.split('## Use the ops in your own code', 1)[1]
  snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
  out = subprocess.run(
      [sys.executable, '-c', snippet], capture_output=True, text=True, timeout=300, check=False
  )
  assert out.returncode == 0, out.stderr
  assert out.stdout.split()[0] == 'bfloat16'
