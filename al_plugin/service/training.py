"""A service train job: supervised training of an experiment's detector
on the labels made so far (a COCO json), as ``tools/train.py`` in a child
process.

The experiment config's model, optimizer, train pipeline and loader
settings are kept; what belongs to an active-learning experiment (the
cycle loop, its splitter, the selection and cycle hooks, validation on a
fixed test split) is replaced by mmengine's ``EpochBasedTrainLoop`` over a
``CocoDataset`` of the labels (:func:`supervised_config`). Progress is read
from the child's log (``Epoch(train) [e][i/n]``); the last checkpoint
becomes the service's "latest".
"""
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Optional

from al_plugin.utils import atomic_write_json
from .settings import latest_file

#: hooks that exist for the active-learning loop only
AL_ONLY_HOOKS = ('ActiveSelectionHook', 'ActiveLearningStateHook',
                 'ActiveLearningVisualizationHook', 'ALVisualizationHook',
                 'CycleResultsHook', 'CycleEarlyStoppingHook',
                 'CycleCheckpointHook')
#: ``Epoch(train)  [3][ 20/100]``
ITER_LINE = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')


def _hook_type(hook) -> str:
    kind = hook.get('type') if isinstance(hook, dict) else None
    return kind if isinstance(kind, str) else getattr(kind, '__name__', '')


def supervised_config(cfg, labels: str, images_root: str, epochs: int,
                      work_dir: str, load_from: Optional[str] = None):
    """An experiment config turned into plain supervised training.

    Args:
        cfg (Config): The experiment config (changed in place).
        labels (str): A COCO json; its ``file_name`` are relative to
            ``images_root``; its categories are matched by name with the
            config's classes.
        images_root (str): The images' folder.
        epochs (int): Epochs over the labeled images.
        work_dir (str): Where the run writes.
        load_from (str, optional): Weights to start from (fine-tuning);
            None: the config's own initialisation.

    Returns:
        Config: ``cfg``.
    """
    from al_plugin.datasets.dataset_tree import leaf_datasets
    from al_plugin.engine.image_query import config_classes
    train_set = cfg.train_dataloader['dataset']
    classes = config_classes(train_set)
    cfg.train_dataloader['dataset'] = dict(
        type='CocoDataset',
        data_root=images_root,
        ann_file=labels,
        data_prefix=dict(img=images_root.rstrip('/') + '/'),
        metainfo=dict(classes=tuple(classes)),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=leaf_datasets(train_set)[0]['pipeline'])
    cfg.train_dataloader['sampler'] = dict(type='DefaultSampler',
                                           shuffle=True)
    cfg.train_dataloader.pop('batch_sampler', None)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs,
                         val_interval=epochs + 1)
    for key in ('val_cfg', 'val_dataloader', 'val_evaluator', 'test_cfg',
                'test_dataloader', 'test_evaluator'):
        cfg[key] = None
    cfg.param_scheduler = []
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks') or []
        if _hook_type(h) not in AL_ONLY_HOOKS
    ]
    cfg.default_hooks = {
        k: h
        for k, h in (cfg.get('default_hooks') or {}).items()
        if _hook_type(h) not in AL_ONLY_HOOKS
    }
    cfg.default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=1,
                                           max_keep_ckpts=1)
    cfg.log_processor = dict(type='LogProcessor', window_size=10,
                             by_epoch=True)
    cfg.load_from, cfg.resume = load_from, False
    cfg.work_dir = work_dir
    return cfg


def follow_training(process, log, progress, epochs: int) -> None:
    """Copy the child's output into ``log`` and its iterations into
    ``progress`` (a :class:`~.worker.ProgressFile`): ``done`` / ``total``
    iterations, ``rate`` iterations/s, ``eta`` seconds."""
    start = time.monotonic()
    for line in process.stdout:
        log.write(line)
        log.flush()
        match = ITER_LINE.search(line)
        if match:
            epoch, it, per_epoch = map(int, match.groups())
            done, total = (epoch - 1) * per_epoch + it, epochs * per_epoch
            elapsed = time.monotonic() - start
            rate = done / elapsed if elapsed > 0 else 0.0
            progress(dict(desc='training', done=done, total=total,
                          rate=rate, elapsed=elapsed,
                          eta=(total - done) / rate if rate else None))


def run_train(spec: dict, folder: str, progress, children: list) -> dict:
    """Train on the labels in a child ``tools/train.py`` (appended to
    ``children``, which the worker ends when it is ended); point "latest"
    at the checkpoint it wrote."""
    from mmengine.config import Config
    cfg = supervised_config(
        Config.fromfile(spec['config']), spec['labels'], spec['images_root'],
        spec['epochs'], osp.join(folder, 'train'), spec.get('checkpoint'))
    config_path = osp.join(folder, 'train_config.py')
    cfg.dump(config_path)
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    progress.write(stage='training', done=0, total=None)
    with open(osp.join(folder, 'train_log.txt'), 'w') as log:
        process = subprocess.Popen(
            [sys.executable, osp.join(repo, 'tools', 'train.py'),
             config_path, '--work-dir', cfg.work_dir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        children.append(process)
        try:
            follow_training(process, log, progress, spec['epochs'])
        finally:
            code = process.wait()
        if code != 0:
            raise RuntimeError(f'training failed (exit {code}); see '
                               f'{log.name}')
    checkpoint = osp.join(cfg.work_dir, f'epoch_{spec["epochs"]}.pth')
    if not osp.isfile(checkpoint):
        raise RuntimeError(f'training wrote no {checkpoint}')
    relative = osp.relpath(checkpoint, spec['work_dir']).replace(os.sep, '/')
    atomic_write_json(
        latest_file(spec['work_dir']),
        dict(checkpoint=relative, job=osp.basename(folder)))
    start = spec.get('checkpoint')
    return dict(checkpoint=relative, epochs=spec['epochs'],
                started_from=None if start is None else osp.relpath(
                    start, spec['work_dir']).replace(os.sep, '/'))
