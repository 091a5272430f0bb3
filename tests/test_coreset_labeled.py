"""Core-set starts from the labeled images (Sener & Savarese): in a real
tiny run, its picks are greedy k-center over the pool's features with X_L's
features as the initial centers, both computed again from the checkpoint
that selected; ``tools/query.py`` does the same with ``--labeled-dir`` and
starts near the folder's mean without it."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from al_plugin.engine.export import load_detector, score_images, subset_loader
from al_plugin.engine.selection import pool_loader_cfg
from al_plugin.strategies import CoreSetStrategy
from .conftest import run_tool
from .test_export import pool_paths
from .test_resume import _data_root_options
from .test_strategy_configs import TINY

BUDGET = 4
#: one cycle (8 labeled of 32), then the selection of 4 (selection_1.json)
ONE_CYCLE = [o for o in TINY if not o.startswith('train_cfg.cycles=')] + [
    'train_cfg.cycles=[0]', 'custom_hooks.0.select_after_last=True'
]


@pytest.fixture(scope='module')
def coreset_run(tmp_path_factory, digits_root):
    """A one-cycle core-set run of configs/coreset_digits.py; returns its
    work dir and log."""
    work_dir = tmp_path_factory.mktemp('coreset') / 'run'
    proc = run_tool([
        'tools/train.py', 'configs/coreset_digits.py', '--work-dir',
        str(work_dir), '--cfg-options'
    ] + ONE_CYCLE + _data_root_options(digits_root))
    return work_dir, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def recomputed(coreset_run):
    """Pool and X_L features from the checkpoint that selected (cycle 0's
    model), through the scoring path, and the run's selection."""
    work_dir, _ = coreset_run
    cfg = Config.fromfile(str(work_dir / 'coreset_digits.py'))
    init_default_scope('mmdet')
    model = load_detector(cfg, str(work_dir / 'cycle_0.pth'))
    loader_cfg = pool_loader_cfg(cfg)
    dataset = DATASETS.build(loader_cfg['dataset'])
    labeled = np.load(work_dir / 'X_L_0.npy')
    pool = np.setdiff1d(np.arange(len(dataset)), labeled)

    def features(indices):
        scored, outputs, broken = score_images(
            model, subset_loader(loader_cfg, dataset, indices, 'mark'),
            ['features'])
        assert not broken and scored.tolist() == list(indices)
        return outputs['features']

    selection = json.loads((work_dir / 'selection_1.json').read_text())
    return pool, labeled, features(pool), features(labeled), selection


def test_core_set_picks_start_from_the_labeled_images(coreset_run,
                                                      recomputed):
    _, log = coreset_run
    pool, labeled, pool_feats, labeled_feats, selection = recomputed
    assert len(labeled) == 8 and len(pool) == 24
    assert 'cycle 0: labeled scoring: 8 images' in log
    assert selection['strategy'] == 'CoreSetStrategy'
    picks, _ = CoreSetStrategy().k_center(pool_feats, BUDGET, labeled_feats)
    assert selection['indices'] == pool[picks].tolist()
    # the first pick is the pool image farthest from X_L
    to_labeled = ((pool_feats[:, None].astype(np.float64) -
                   labeled_feats[None])**2).sum(-1).min(1)
    assert selection['indices'][0] == pool[np.argmax(to_labeled)]
    # what the run picked before X_L was scored: it starts near the mean
    without, _ = CoreSetStrategy().k_center(pool_feats, BUDGET)
    assert pool[without].tolist() != selection['indices']


def _copy(paths, folder):
    """Copy images into ``folder``; return their new paths, in order."""
    folder.mkdir(parents=True)
    out = []
    for path in paths:
        # the year in the name: both years number their images from 1
        out.append(folder / f'{osp.basename(osp.dirname(osp.dirname(path)))}'
                   f'_{osp.basename(path)}')
        shutil.copy(path, out[-1])
    return out


def test_query_uses_the_labeled_folder(coreset_run, recomputed, digits_root,
                                       tmp_path):
    work_dir, _ = coreset_run
    pool, labeled, pool_feats, _, selection = recomputed
    paths = pool_paths(digits_root)
    pool_copies = dict(zip(pool.tolist(),
                           _copy([paths[i] for i in pool], tmp_path / 'new')))
    _copy([paths[i] for i in labeled], tmp_path / 'labeled')
    args = [
        'tools/query.py',
        str(work_dir / 'coreset_digits.py'),
        str(work_dir / 'cycle_0.pth'),
        str(tmp_path / 'new'), '--budget',
        str(BUDGET)
    ]
    run_tool(args + ['--labeled-dir', str(tmp_path / 'labeled'), '--out',
                     str(tmp_path / 'with')])
    picked = (tmp_path / 'with' / 'query_images.txt').read_text().split()
    assert picked == [str(pool_copies[i]) for i in selection['indices']]
    # no labeled set: the documented start, the image nearest the mean
    proc = run_tool(args + ['--out', str(tmp_path / 'without')])
    assert 'no --labeled-dir, so there is no labeled set' in (proc.stdout +
                                                              proc.stderr)
    picked = (tmp_path / 'without' / 'query_images.txt').read_text().split()
    without, _ = CoreSetStrategy().k_center(pool_feats, BUDGET)
    assert picked == [str(pool_copies[i]) for i in pool[without]]
