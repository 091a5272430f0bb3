"""The code base stays flake8-clean (settings in setup.cfg)."""
import subprocess
import sys

from .conftest import REPO


def test_flake8_clean():
    proc = subprocess.run(
        [sys.executable, '-m', 'flake8', 'al_plugin', 'tools', 'tests',
         'configs', 'projects', 'benchmarks'],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
