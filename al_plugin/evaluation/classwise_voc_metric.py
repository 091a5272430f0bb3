"""mmdet's VOC mAP with the AP of every class among its results."""
from mmdet.evaluation import VOCMetric
from mmdet.evaluation.functional import eval_map
from mmdet.registry import METRICS


@METRICS.register_module()
class ClasswiseVOCMetric(VOCMetric):
    """:class:`mmdet.evaluation.VOCMetric` whose results also hold the AP
    of each class, as ``CocoMetric(classwise=True)``'s do: the numbers of
    the table VOCMetric logs, which it does not return.

    With ``metric='mAP'``, for each IoU threshold ``t`` (``AP50`` for
    0.5) and each class ``name`` with ground-truth boxes in the evaluated
    set, the key ``<name>_AP<t>`` (``pascal_voc/dog_AP50``); a class
    without any has no key (VOC's mAP leaves it out too). The per-class
    APs are over all box sizes (``scale_ranges`` applies to the mean
    only). VOCMetric's own keys are unchanged. The per-class APs cost a
    second pass of :func:`mmdet.evaluation.functional.eval_map` (4 s for
    2000 images of 20 classes on 2 busy CPU cores). With
    ``metric='recall'`` it is VOCMetric.

    Takes VOCMetric's arguments. Example::

        val_evaluator = dict(type='ClasswiseVOCMetric', metric='mAP',
                             eval_mode='11points')
    """

    def compute_metrics(self, results: list) -> dict:
        """VOCMetric's metrics, then ``<class>_AP<t>`` per class."""
        metrics = super().compute_metrics(results)
        if self.metric != 'mAP':
            return metrics
        gts, preds = zip(*results)
        classes = self.dataset_meta['classes']
        for iou_thr in self.iou_thrs:
            _, per_class = eval_map(
                preds,
                gts,
                iou_thr=iou_thr,
                logger='silent',
                eval_mode=self.eval_mode,
                use_legacy_coordinate=True)
            for name, result in zip(classes, per_class):
                if result['num_gts'] > 0:
                    metrics[f'{name}_AP{int(iou_thr * 100):02d}'] = float(
                        result['ap'])
        return metrics
