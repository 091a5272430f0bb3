"""A service evaluate job: a detector's mAP on labeled images, overall and
per class, VOC-style and COCO-style.

The experiment config's model and test pipeline run over a
``CocoDataset`` of the labels (a COCO json); the evaluators are
``ClasswiseVOCMetric`` (``pascal_voc/mAP``: 11-point AP at IoU 0.5, and
``pascal_voc/<class>_AP50``) and mmdet's ``CocoMetric(classwise=True)``
(``coco/bbox_mAP``, ``coco/bbox_mAP_50``, ``coco/<class>_precision``).
The test runs in the worker process through mmengine's ``Runner.test``;
a hook reports the images done.
"""
from mmengine.hooks import Hook

#: the metric families a request may ask for
METRICS = ('voc', 'coco')


class ProgressHook(Hook):
    """Hands the test's progress to a listener (see
    :class:`~.worker.ProgressFile`) after every batch, and once more
    (``ended=True``) when the test has run."""

    def __init__(self, listener) -> None:
        self.listener = listener
        self.done = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self.done += len(outputs or [])
        total = len(runner.test_dataloader.dataset)
        self.listener(dict(desc='evaluating', done=self.done, total=total,
                           rate=None, elapsed=None, eta=None))

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.listener(dict(desc='evaluating', done=self.done,
                           total=len(runner.test_dataloader.dataset),
                           rate=None, elapsed=None, eta=None, ended=True))


def evaluation_config(cfg, labels: str, images_root: str, checkpoint: str,
                      work_dir: str, metrics=METRICS):
    """An experiment config turned into a test on the labels.

    Args:
        cfg (Config): The experiment config (changed in place).
        labels (str): A COCO json; ``file_name`` relative to ``images_root``;
            categories matched by name with the config's classes.
        images_root (str): The images' folder.
        checkpoint (str): The weights to evaluate.
        work_dir (str): Where the run writes its log.
        metrics (Sequence[str]): Of :data:`METRICS`.

    Returns:
        Config: ``cfg``.
    """
    from al_plugin.datasets.dataset_tree import leaf_datasets
    from al_plugin.engine.image_query import config_classes
    from al_plugin.service.training import supervised_config
    classes = tuple(config_classes(cfg.train_dataloader['dataset']))
    test_set = leaf_datasets(cfg.test_dataloader['dataset'])[0]
    test_loader = dict(cfg.test_dataloader)
    supervised_config(cfg, labels, images_root, 1, work_dir, checkpoint)
    test_loader['dataset'] = dict(
        type='CocoDataset',
        data_root=images_root,
        ann_file=labels,
        data_prefix=dict(img=images_root.rstrip('/') + '/'),
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_set['pipeline'])
    cfg.test_dataloader = test_loader
    cfg.test_cfg = dict(type='TestLoop')
    evaluators = []
    if 'voc' in metrics:
        evaluators.append(
            dict(type='ClasswiseVOCMetric', metric='mAP',
                 eval_mode='11points'))
    if 'coco' in metrics:
        evaluators.append(
            dict(type='CocoMetric', ann_file=labels, metric='bbox',
                 classwise=True))
    cfg.test_evaluator = evaluators
    return cfg


def run_evaluate(spec: dict, folder: str, progress) -> dict:
    """Test the checkpoint on the labels; the metrics and the per-class
    table."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.runner import Runner

    from al_plugin.evaluation import per_class_ap
    from al_plugin.utils import to_float
    progress.write(stage='loading', done=0, total=None)
    cfg = evaluation_config(
        Config.fromfile(spec['config']), spec['labels'], spec['images_root'],
        spec['checkpoint'], osp.join(folder, 'evaluate'), spec['metrics'])
    runner = Runner.from_cfg(cfg)
    runner.register_hook(ProgressHook(progress))
    metrics = {k: to_float(v) for k, v in runner.test().items()}
    classes = runner.test_dataloader.dataset.metainfo['classes']
    notes = []
    if 'coco' in spec['metrics'] and not any(
            k.startswith('coco/') for k in metrics):
        # CocoMetric returns nothing at all for a model without detections
        notes.append('coco: the model made no detection (above its test_cfg '
                     'score_thr) on these images, so CocoMetric gave no '
                     'value: its mAP is 0')
    return dict(
        metrics={
            k: v
            for k, v in metrics.items() if not _per_class_key(k, classes)
        },
        per_class=per_class_ap(metrics, classes),
        num_images=len(runner.test_dataloader.dataset),
        checkpoint=osp.relpath(spec['checkpoint'], spec['work_dir']),
        notes=notes)


def _per_class_key(key: str, classes) -> bool:
    """Whether ``key`` is ``<prefix>/<class>_<suffix>`` of a class."""
    name = key.rpartition('/')[2].rpartition('_')[0]
    return name in set(classes)
