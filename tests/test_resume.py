"""`--resume` under torch >= 2.6 (weights_only=True) continues a training."""
import os.path as osp

import torch

from .conftest import run_tool

CONFIG = 'tests/configs/retinanet_digits_tiny.py'


def _train(work_dir, data_root, max_epochs, resume=None):
    args = [
        'tools/train.py', CONFIG, '--work-dir',
        str(work_dir), '--cfg-options',
        f'train_cfg.max_epochs={max_epochs}'
    ] + _data_root_options(data_root)
    if resume:
        args += ['--resume', str(resume)]
    return run_tool(args)


def _data_root_options(data_root):
    root = f'{data_root}/VOCdevkit/'
    return [
        f'train_dataloader.dataset.datasets.0.data_root={root}',
        f'train_dataloader.dataset.datasets.1.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
    ]


def test_resume_continues_epochs_and_weights(tmp_path, digits_root):
    assert torch.__version__ >= '2.6'
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    _train(straight, digits_root, max_epochs=2)
    _train(resumed, digits_root, max_epochs=1)

    ckpt1 = resumed / 'epoch_1.pth'
    # The checkpoint loads with the strict default of torch >= 2.6.
    state = torch.load(ckpt1, map_location='cpu', weights_only=True)
    assert state['meta']['epoch'] == 1
    assert 'log_scalars' in state['message_hub']

    proc = _train(resumed, digits_root, max_epochs=2, resume=ckpt1)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log.split('resumed epoch: 1')[1]
    assert 'Epoch(train) [2]' in log

    a = torch.load(straight / 'epoch_2.pth', weights_only=True)
    b = torch.load(resumed / 'epoch_2.pth', weights_only=True)
    assert b['meta']['epoch'] == 2 and b['meta']['iter'] == a['meta']['iter']
    # Weights continued from epoch 1: the resumed run ends where the
    # uninterrupted one does (same data order, no random augmentation).
    first = torch.load(ckpt1, weights_only=True)['state_dict']
    for key, value in a['state_dict'].items():
        if value.is_floating_point():
            torch.testing.assert_close(b['state_dict'][key], value)
    moved = [
        k for k, v in a['state_dict'].items()
        if v.is_floating_point() and not torch.equal(v, first[k])
    ]
    assert moved, 'epoch 2 did not change any weight'
    assert osp.exists(resumed / 'last_checkpoint')
