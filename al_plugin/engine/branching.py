"""Branch an experiment: go on from one cycle's trained model of another
run, with another strategy."""
import os
import os.path as osp
import shutil
from typing import Optional

import torch

from al_plugin.utils import atomic_open
from al_plugin.work_dir import INITIAL_WEIGHTS, cycle_of, trained_checkpoint


def branch_experiment(source_dir: str,
                      cycle: int,
                      work_dir: str,
                      seed: Optional[int] = None) -> str:
    """Prepare ``work_dir`` to go on from cycle ``cycle``'s trained model of
    the experiment in ``source_dir``, with another strategy.

    Copies the source's ``al_initial_weights.pth`` (what later cycles start
    from) into ``work_dir`` and returns the source's
    ``trained_cycle_<cycle>.pth`` (written by
    :class:`~al_plugin.engine.hooks.CycleCheckpointHook`).  ``tools/train.py
    CONFIG --work-dir work_dir --resume <it>`` then starts where the source
    was after evaluating cycle ``cycle``: its model, X_L / X_U of that
    cycle, its results so far and its seed; it selects with CONFIG's
    strategy and trains the next cycles. CONFIG must have the source's
    model, cycle schedule and split settings (the resume checks the last
    two).

    Args:
        source_dir (str): The source experiment's work dir.
        cycle (int): The cycle whose trained model the branch selects with.
        work_dir (str): The branch's work dir (created if need be).
        seed (int, optional): The seed the branch is meant to have; the
            source's must equal it.

    Returns:
        str: The checkpoint to resume from.

    Raises:
        FileNotFoundError: If ``source_dir`` lacks the checkpoint (the
            message lists the cycles it has one for) or the initial
            weights.
        ValueError: If the source ran with another seed than ``seed``.
    """
    checkpoint = osp.join(source_dir, trained_checkpoint(cycle))
    if not osp.isfile(checkpoint):
        names = os.listdir(source_dir) if osp.isdir(source_dir) else []
        have = sorted(c for c in (cycle_of(n, 'trained_checkpoint')
                                  for n in names) if c is not None)
        raise FileNotFoundError(
            f'{checkpoint}: no such file; {source_dir} holds the trained '
            f'model of cycles {have} (train_cfg.max_keep_trained_ckpts '
            'keeps the newest; -1 keeps every cycle\'s)')
    initial = osp.join(source_dir, INITIAL_WEIGHTS)
    if not osp.isfile(initial):
        raise FileNotFoundError(f'{initial}: no such file (the weights '
                                'every cycle of the source starts from)')
    if seed is not None:
        meta = torch.load(checkpoint, map_location='cpu', weights_only=True,
                          mmap=True)['meta']
        if meta.get('seed') != seed:
            raise ValueError(f'{checkpoint} was written by a run of seed '
                             f'{meta.get("seed")}, not {seed}')
    os.makedirs(work_dir, exist_ok=True)
    with open(initial, 'rb') as src, \
            atomic_open(osp.join(work_dir, INITIAL_WEIGHTS), 'wb') as dst:
        shutil.copyfileobj(src, dst)
    return checkpoint
