"""tools/validate_splits.py retrains a plain detector on experiments'
labeled sets; al_plugin.engine.validation does the work."""
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmdet.registry import DATASETS

from al_plugin.datasets.splitter import read_pool
from al_plugin.engine.validation import (subset_dataset_cfg, summarize,
                                         validate_splits)
from .conftest import REPO, run_tool
from .test_analysis import pool_annotations
from .test_resume import _data_root_options

AL_CONFIG = 'tests/configs/random_digits_tiny.py'
PLAIN_CONFIG = 'tests/configs/retinanet_digits_tiny.py'


@pytest.fixture(scope='module')
def experiment(tmp_path_factory, digits_root):
    """A 2-cycle random experiment: X_L_0 of 8 images, X_L_1 of 12."""
    work_dir = tmp_path_factory.mktemp('validate') / 'random'
    run_tool(['tools/train.py', AL_CONFIG, '--work-dir', str(work_dir),
              '--cfg-options', 'train_cfg.cycles=[0,1]',
              'train_cfg.max_keep_trained_ckpts=0'] +
             _data_root_options(digits_root))
    return work_dir


def _validate(work_dirs, out, digits_root, *extra, check=True):
    return run_tool(['tools/validate_splits.py', *map(str, work_dirs),
                     '--config', PLAIN_CONFIG, '--work-dir', str(out),
                     *extra, '--cfg-options'] +
                    _data_root_options(digits_root), check=check)


def test_validation_runs_train_on_the_labeled_set(experiment, tmp_path,
                                                  digits_root):
    out = tmp_path / 'validate'
    proc = _validate([experiment], out, digits_root, '--repeats', '2')
    report = json.loads((out / 'validation.json').read_text())
    run, = report['runs']
    assert run['cycle'] == 1  # the last by default
    # the labeled set is X_L_1.npy: its ids, read from the VOC lists
    pool = pool_annotations(digits_root)
    labeled = np.load(experiment / 'X_L_1.npy')
    assert run['img_ids'] == [pool[i][1] for i in labeled]
    assert run['num_labeled'] == 12
    assert run['num_boxes'] == sum(len(pool[i][2]) for i in labeled)
    # N repeats, N results, each trained on the 12 images with its seed
    assert [r['seed'] for r in run['results']] == [0, 1]
    assert [r['num_images'] for r in run['results']] == [12, 12]
    values = [r['value'] for r in run['results']]
    assert values == [r['metrics']['pascal_voc/mAP']
                      for r in run['results']]
    assert report['metric'] == 'pascal_voc/mAP'
    assert run['summary'] == dict(n=2, mean=pytest.approx(np.mean(values)),
                                  std=pytest.approx(np.std(values)),
                                  min=min(values), max=max(values))
    weights = [torch.load(out / 'random' / f'seed{s}' / 'epoch_2.pth',
                          weights_only=True)['state_dict'] for s in (0, 1)]
    assert any(not torch.equal(weights[0][k], weights[1][k])
               for k in weights[0] if weights[0][k].is_floating_point())
    table = proc.stdout.split('(pascal_voc/mAP)')[1]
    assert f'{run["summary"]["mean"]:7.4f}' in table.splitlines()[1]

    # again with one more repeat: seeds 0 and 1 are not trained again
    again = _validate([experiment], out, digits_root, '--repeats', '3')
    started = [line for line in again.stdout.splitlines()
               if line.startswith('random: X_L_1 (12 images), seed ')]
    assert started == ['random: X_L_1 (12 images), seed 2']
    report = json.loads((out / 'validation.json').read_text())
    assert [r['seed'] for r in report['runs'][0]['results']] == [0, 1, 2]
    assert report['runs'][0]['results'][:2] == run['results']


def _plain_cfg(digits_root):
    cfg = Config.fromfile(f'{REPO}/{PLAIN_CONFIG}')
    cfg.merge_from_dict(
        dict(a.split('=', 1) for a in _data_root_options(digits_root)))
    return cfg


def test_bad_inputs_name_the_work_dir_and_cycle(experiment, tmp_path,
                                                digits_root):
    out = tmp_path / 'validate'
    proc = _validate([experiment, tmp_path / 'nope'], out, digits_root,
                     '--repeats', '1', check=False)
    assert proc.returncode != 0
    assert f'{tmp_path / "nope"}: no such work_dir' in proc.stderr
    cfg = _plain_cfg(digits_root)
    with pytest.raises(FileNotFoundError) as error:
        validate_splits(cfg, [str(experiment)], 1, str(out), cycle=7)
    assert str(error.value) == (
        f'{experiment / "X_L_7.npy"}: no such file; {experiment} has the '
        'labeled sets of cycles [0, 1]')
    with pytest.raises(FileNotFoundError, match='no X_L_<c>.npy'):
        validate_splits(cfg, [str(tmp_path)], 1, str(out))
    with pytest.raises(ValueError, match='repeats must be >= 1'):
        validate_splits(cfg, [str(experiment)], 0, str(out))
    assert not out.exists()


def test_subset_dataset_cfg_keeps_the_indices(digits_root):
    cfg = _plain_cfg(digits_root)
    init_default_scope('mmdet')
    pool = DATASETS.build(cfg.train_dataloader.dataset)
    ids, _ = read_pool(pool)
    first = len(pool.datasets[0])
    # only images of the second part: the first is left out of the concat
    indices = [first + 2, first, len(pool) - 1]
    subset_cfg = subset_dataset_cfg(cfg.train_dataloader.dataset, pool,
                                    indices)
    assert len(subset_cfg['datasets']) == 1
    subset = DATASETS.build(subset_cfg)
    assert read_pool(subset)[0] == [ids[i] for i in sorted(indices)]
    indices = [0, first + 1]
    subset = DATASETS.build(
        subset_dataset_cfg(cfg.train_dataloader.dataset, pool, indices))
    assert read_pool(subset)[0] == [ids[0], ids[first + 1]]
    with pytest.raises(ValueError, match='a RepeatDataset dataset wrapper'):
        subset_dataset_cfg(dict(type='RepeatDataset', times=2,
                                dataset=cfg.train_dataloader.dataset),
                           pool, indices)
    leaves = cfg.train_dataloader.dataset['datasets']
    with pytest.raises(ValueError, match='config has 1 leaf datasets, the '
                       'pool 2'):
        subset_dataset_cfg(leaves[0], pool, indices)
    taken = dict(cfg.train_dataloader.dataset,
                 datasets=[leaves[0], dict(leaves[1], indices=[0, 1])])
    with pytest.raises(ValueError, match=r'already takes indices=\[0, 1\]'):
        subset_dataset_cfg(taken, pool, indices)
    with pytest.raises(ValueError, match='the labeled set is empty'):
        subset_dataset_cfg(cfg.train_dataloader.dataset, pool, [])


def test_summarize():
    assert summarize([0.2, 0.4]) == dict(n=2, mean=pytest.approx(0.3),
                                         std=pytest.approx(0.1), min=0.2,
                                         max=0.4)
    assert summarize([])['mean'] is None
