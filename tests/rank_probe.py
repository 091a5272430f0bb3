"""A test-only hook: each rank writes what it saw to ``rank<r>.json``.

Loaded through ``custom_imports=['tests.rank_probe']`` by the distributed
tests, so that they can check that every rank trained.
"""
import json
import os.path as osp

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS


@HOOKS.register_module()
class RankProbeHook(Hook):
    """Count training iterations per rank and dump a weight checksum."""

    def __init__(self):
        self.iters = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.iters += 1

    def after_run(self, runner):
        rank, world_size = get_dist_info()
        model = runner.model
        module = model.module if is_model_wrapper(model) else model
        checksum = float(
            sum(p.detach().double().sum() for p in module.parameters()))
        backend = (torch.distributed.get_backend()
                   if torch.distributed.is_initialized() else None)
        splitter = getattr(runner.train_loop, 'splitter', None)
        digest = splitter.split_digest() if splitter else None
        with open(osp.join(runner.work_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(
                dict(
                    rank=rank,
                    world_size=world_size,
                    iters=self.iters,
                    wrapper=type(model).__name__,
                    backend=backend,
                    checksum=checksum,
                    split_digest=digest), f)
