"""Every runnable config parses, and the paper configs keep the paper's
settings (these configs need real datasets, so they are not trained here)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from .conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_parses_and_builds_model(path):
    from al_plugin.engine import check_selection_hooks
    from mmdet.registry import MODELS
    cfg = Config.fromfile(path)
    assert 'al_plugin' in cfg.custom_imports.imports
    check_selection_hooks(cfg)  # strategy names and options
    cfg.model.backbone.init_cfg = None  # no download
    MODELS.build(cfg.model)


def test_miaod_voc0712_has_the_paper_settings():
    cfg = Config.fromfile(osp.join(REPO, 'configs/miaod_voc0712.py'))
    loop = cfg.train_cfg
    assert loop.type == 'MIAODTrainLoop'
    assert (loop.cycles, loop.epoch, loop.epoch_ratio) == (list(range(7)), 2,
                                                           [3, 1])
    assert (loop.X_L_repeat, loop.X_U_repeat) == (2, 2)
    # 16551 images: 16551 // 20 = 827 and 16551 // 40 = 413
    assert int(16551 * loop.splitter.X_L_0_size) == 827
    assert int(16551 * loop.splitter.X_S_size) == 413
    assert loop.splitter.seed == 666
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 5e-4
    assert cfg.model.train_cfg.param_lambda == 0.5
    assert cfg.model.backbone.init_cfg.checkpoint == 'torchvision://resnet50'
    hook = [h for h in cfg.custom_hooks if h.type == 'ActiveSelectionHook']
    assert hook[0].scorer_cfg.k == 10000
    assert cfg.param_scheduler == []
