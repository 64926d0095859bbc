"""The README's "Using the losses in your own project" example, run as written."""
from __future__ import annotations

import math
import re
import subprocess
import sys

from tests.conftest import REPO


def _section() -> str:
  readme = (REPO / "README.md").read_text()
  return re.search(r"\n## Using the losses in your own project\n(.*?)\n## ", readme,
                   re.S).group(1)


def test_the_install_command_names_the_losses_distribution():
  install = re.search(r"```sh\n(.*?)```", _section(), re.S).group(1)
  assert "pip install ./losses" in install
  assert '"nn-lib-losses @ git+' in install and "#subdirectory=losses" in install


def test_the_readme_training_example_runs_and_its_loss_decreases(tmp_path):
  blocks = re.findall(r"```python\n(.*?)```", _section(), re.S)
  assert len(blocks) == 1
  # The project's environment, from a directory of the user's: `import losses` is
  # the installed library, not a file beside the script.
  script = tmp_path / "example.py"
  script.write_text(blocks[0])
  proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                        text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = proc.stdout.splitlines()
  steps = [re.fullmatch(r"step +(\d+)  loss (\d\.\d{4})", line) for line in lines[:-1]]
  assert all(steps), lines
  assert [int(m.group(1)) for m in steps] == [0, 50, 100, 150, 200]
  values = [float(m.group(2)) for m in steps]
  # zero weights: uniform over 5 classes, log 5; then every print lower than the last
  assert values[0] == round(math.log(5), 4)
  assert all(b < a for a, b in zip(values, values[1:])), values
  assert values[-1] < 0.25, values
  accuracy = float(re.fullmatch(r"training accuracy (\d\.\d{3})", lines[-1]).group(1))
  assert accuracy > 0.95
