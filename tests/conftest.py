import os
import os.path as osp
import subprocess
import sys

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
def digits_root(tmp_path_factory):
    """A tiny built-in digits set (VOC tree + COCO json), made once."""
    out = tmp_path_factory.mktemp('digits') / 'digits_det'
    run_tool([
        'tools/make_digits_det.py', '--out', str(out), '--num-trainval', '32',
        '--num-test', '8', '--min-size', '64', '--max-size', '64', '--seed',
        '0'
    ])
    return out
