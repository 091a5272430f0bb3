"""`tools/dist_train.sh CONFIG 2` trains with 2 CPU processes (gloo)."""
import json
import socket

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from al_plugin.engine import setup_cpu_distributed, teardown_cpu_distributed

from .conftest import run_tool
from .test_resume import _data_root_options

CONFIG = 'tests/configs/retinanet_digits_tiny_ranks.py'


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_ranks(tmp_path, digits_root):
    work_dir = tmp_path / 'dist'
    run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
              str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1'] +
             _data_root_options(digits_root),
             env={'PORT': str(_free_port())})
    ranks = [json.loads((work_dir / f'rank{r}.json').read_text())
             for r in (0, 1)]
    assert [r['rank'] for r in ranks] == [0, 1]
    for r in ranks:
        assert r['world_size'] == 2
        assert r['backend'] == 'gloo'
        assert r['wrapper'] == 'CPUDistributedDataParallel'
    # 32 training images, batch 4, sharded over 2 ranks: 4 iterations each.
    assert [r['iters'] for r in ranks] == [4, 4]
    # DDP kept the replicas identical.
    assert abs(ranks[0]['checksum'] - ranks[1]['checksum']) < 1e-6


def test_dist_miaod_experiment_two_cpu_ranks(tmp_path, digits_root):
    """Both ranks run every phase and cycle, end with the same X_L, and the
    files are written once, complete."""
    work_dir = tmp_path / 'dist_miaod'
    run_tool(['bash', 'tools/dist_train.sh',
              'tests/configs/miaod_digits_tiny_ranks.py', '2', '--work-dir',
              str(work_dir), '--cfg-options', 'train_cfg.cycles=[0,1]'] +
             _data_root_options(digits_root),
             env={'PORT': str(_free_port())})
    ranks = [json.loads((work_dir / f'rank{r}.json').read_text())
             for r in (0, 1)]
    assert ranks[0]['split_digest'] == ranks[1]['split_digest']
    assert abs(ranks[0]['checksum'] - ranks[1]['checksum']) < 1e-6
    assert all(r['wrapper'] == 'CPUDistributedDataParallel' for r in ranks)
    X_L = [np.load(work_dir / f'X_L_{c}.npy') for c in (0, 1)]
    assert [len(x) for x in X_L] == [8, 12] and set(X_L[0]) < set(X_L[1])
    assert not list(work_dir.rglob('*.tmp'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='the gloo path is CPU')
def test_cpu_group_opened_and_closed(monkeypatch):
    """The group a CPU run opens is closed at its end (a gloo group left to
    the interpreter's exit aborted a rank now and then), and only that one:
    a run that opened none closes none."""
    for key, value in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(_free_port())).items():
        monkeypatch.setenv(key, value)
    assert not torch_dist.is_initialized()
    assert setup_cpu_distributed(Config(dict(launcher='none'))) is False
    teardown_cpu_distributed(False)
    cfg = Config(dict(launcher='pytorch'))
    try:
        assert setup_cpu_distributed(cfg) is True
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'CPUDistributedDataParallel'
        teardown_cpu_distributed(True)
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
