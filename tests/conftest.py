import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))


def run_tool(args, cwd=REPO, env=None, timeout=600, check=True):
    """Run a command line of the repo (``python tools/...`` or a shell
    script) in a subprocess; return the CompletedProcess.

    The output is shown when the command fails, so a red test says why.
    """
    full_env = dict(os.environ)
    full_env['PYTHONPATH'] = REPO + os.pathsep + full_env.get(
        'PYTHONPATH', '')
    full_env['PYTHON'] = sys.executable
    full_env.update(env or {})
    if args[0].endswith('.py'):
        args = [sys.executable] + list(args)
    proc = subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(map(str, args))} exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-6000:]}\n'
            f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def digits_root():
    """A tiny built-in digits set (VOC tree + COCO json), made once, at a
    short path (``/tmp/al_digits_XXXXXXXX``), removed at the end.

    Its path goes into every experiment config of the tests, and mmengine
    formats the whole config with yapf (``Config.pretty_text``) at every
    checkpoint it saves: a nested line with a long ``data_root`` overflows
    and yapf's search for line breaks then takes up to a second. A
    ``tmp_path`` under pytest-xdist is ~70 characters
    (``/tmp/pytest-of-<user>/pytest-<n>/popen-gw<k>/...``): the tiny MI-AOD
    experiment of tests/configs (18 checkpoints) spent ~25 s in yapf there,
    ~2 s at ~45 characters.
    """
    base = tempfile.mkdtemp(prefix='al_digits_')
    out = Path(base) / 'digits_det'
    run_tool([
        'tools/make_digits_det.py', '--out', str(out), '--num-trainval', '32',
        '--num-test', '8', '--min-size', '64', '--max-size', '64', '--seed',
        '0'
    ])
    yield out
    shutil.rmtree(base, ignore_errors=True)
