"""FROCMetric against a hand-computed curve, its edge cases, and its lookup
from a config."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from al_plugin.evaluation import (FROCMetric, froc_curve, match_detections,
                                  sensitivity_at)
from .utils import det_data_sample


def eval_sample(gts=(), gt_labels=(), dets=(), scores=(), labels=(),
                ignored=()):
    """One evaluated image as the evaluator hands it to a metric: GT boxes
    (and ignored ones, label 0), detections with scores and labels."""
    sample = det_data_sample(gts, gt_labels)
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor(ignored, dtype=torch.float32).reshape(-1, 4),
        labels=torch.zeros(len(ignored), dtype=torch.long))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(dets, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.long))
    return sample.to_dict()


def _evaluate(samples, **options):
    metric = FROCMetric(**options)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


BOX = (0, 0, 10, 10)
#: four images, 4 objects to find (a1, a2, b1, d1; d2 is ignored)
IMAGES = [
    # A: a1 = BOX, a2 = (20, 20, 30, 30), both class 0.
    #    0.9 on a1: TP; 0.8 on a1 again: FP (found already); 0.3 on a2: TP
    eval_sample([BOX, (20, 20, 30, 30)], [0, 0],
                [BOX, BOX, (20, 20, 30, 30)], [0.9, 0.8, 0.3], [0, 0, 0]),
    # B: b1 = BOX, class 1.
    #    0.7 on b1 as class 0: FP (another class); 0.6 at (1, 1, 11, 11),
    #    IoU 81 / 119 = 0.68, class 1: TP
    eval_sample([BOX], [1], [BOX, (1, 1, 11, 11)], [0.7, 0.6], [0, 1]),
    # C: no object. 0.5: FP
    eval_sample(dets=[(5, 5, 15, 15)], scores=[0.5], labels=[0]),
    # D: d1 = BOX (class 0), d2 = (30, 30, 40, 40) ignored.
    #    0.95 on d2: neither; 0.4 far away: FP; 0.2 at (5, 0, 15, 10),
    #    IoU 50 / 150 = 0.33 with d1: FP (d1 is never found)
    eval_sample([BOX], [0],
                [(30, 30, 40, 40), (50, 50, 60, 60), (5, 0, 15, 10)],
                [0.95, 0.4, 0.2], [0, 0, 0], ignored=[(30, 30, 40, 40)]),
]
# By descending score, ignored 0.95 left out (cumulative FPs, found):
#   0.9 TP (0, 1) | 0.8 FP (1, 1) | 0.7 FP (2, 1) | 0.6 TP (2, 2)
#   0.5 FP (3, 2) | 0.4 FP (4, 2) | 0.3 TP (4, 3) | 0.2 FP (5, 3)
# At f FPs per image a threshold may let through 4 f FPs (4 images):
#   1/8 -> 0.5 FP: 0 FPs, 1 found: 1/4     1/4 -> 1 FP: 1/4
#   1/2 -> 2 FPs: 2 found: 2/4              1 -> 4 FPs: 3 found: 3/4
#   2, 4, 8 -> 8, 16, 32 FPs: the whole curve (5 FPs), 3/4
EXPECTED = [0.25, 0.25, 0.5, 0.75, 0.75, 0.75, 0.75]


def test_froc_matches_the_hand_computed_curve():
    metrics = _evaluate(IMAGES)
    keys = ['froc/sensitivity@' + r
            for r in ('0.125', '0.25', '0.5', '1', '2', '4', '8')]
    assert list(metrics) == ['froc/mean_sensitivity'] + keys
    assert [metrics[k] for k in keys] == pytest.approx(EXPECTED)
    # (1/4 + 1/4 + 2/4 + 4 * 3/4) / 7 = 4 / 7
    assert metrics['froc/mean_sensitivity'] == pytest.approx(4 / 7)


def test_class_agnostic_matching_and_options():
    # class-agnostic, B's 0.7 finds b1 and its 0.6 is the second find: FP
    #   0.9 TP (0, 1) | 0.8 FP (1, 1) | 0.7 TP (1, 2) | 0.6 FP (2, 2)
    #   0.5 FP (3, 2) | 0.4 FP (4, 2) | 0.3 TP (4, 3) | 0.2 FP (5, 3)
    metrics = _evaluate(IMAGES, class_agnostic=True)
    assert metrics['froc/sensitivity@0.25'] == 0.5
    assert metrics['froc/mean_sensitivity'] == pytest.approx(4.25 / 7)
    # at IoU 0.7 B's 0.6 (IoU 0.68) misses; own rates and prefix
    metrics = _evaluate(IMAGES, iou_thr=0.7, fp_rates=[0.5, 1.25],
                        prefix='lesion')
    # found: 0.9 (0 FPs), 0.3 (after 0.8, 0.7, 0.6, 0.5, 0.4: 5 FPs);
    # 0.5 and 1.25 FPs per image let through 2 and 5 FPs
    assert metrics == {'lesion/mean_sensitivity': pytest.approx(0.375),
                       'lesion/sensitivity@0.5': 0.25,
                       'lesion/sensitivity@1.25': 0.5}


def test_equal_scores_enter_together():
    # one image, one object; a TP and an FP of the same score: at 1/2 FP
    # per image no threshold keeps the TP without the FP
    image = eval_sample([BOX], [0], [BOX, (50, 50, 60, 60)], [0.5, 0.5],
                        [0, 0])
    assert _evaluate([image], fp_rates=[0.5, 1]) == {
        'froc/mean_sensitivity': 0.5, 'froc/sensitivity@0.5': 0.0,
        'froc/sensitivity@1': 1.0}


def test_images_without_objects_or_detections():
    empty = eval_sample()  # no object, no detection: counts as an image
    found = eval_sample([BOX], [0], [BOX], [0.9], [0])
    metrics = _evaluate([found, empty, empty, empty], fp_rates=[0.125])
    assert metrics['froc/sensitivity@0.125'] == 1.0
    # no detection anywhere: nothing found at any rate
    metrics = _evaluate([eval_sample([BOX], [0]), empty])
    assert set(metrics.values()) == {0.0}
    # a false positive on an image without objects: 2 FPs in 2 images
    false = eval_sample(dets=[(20, 20, 30, 30)] * 2, scores=[0.95, 0.94],
                        labels=[0, 0])
    metrics = _evaluate([found, false], fp_rates=[0.5, 1])
    assert metrics['froc/sensitivity@0.5'] == 0.0
    assert metrics['froc/sensitivity@1'] == 1.0


def test_bad_input_names_the_option_or_the_set():
    with pytest.raises(ValueError, match='FROCMetric.iou_thr'):
        FROCMetric(iou_thr=0)
    with pytest.raises(ValueError, match='FROCMetric.fp_rates'):
        FROCMetric(fp_rates=[1, -2])
    with pytest.raises(ValueError, match='none of the 2 evaluated images'):
        _evaluate([eval_sample(dets=[BOX], scores=[0.5], labels=[0]),
                   eval_sample(ignored=[BOX])])


def test_the_functions_on_arrays():
    outcomes = match_detections(
        np.array([BOX, BOX, (30, 30, 40, 40)]), np.array([0.2, 0.9, 0.5]),
        np.array([BOX, (30, 30, 40, 40)]), gt_ignore=np.array([0, 1]))
    # the higher-scored duplicate finds the object; the other is an FP
    assert outcomes.tolist() == [0, 1, -1]
    fppi, sens = froc_curve(np.array([0.2, 0.9, 0.5]), outcomes, 1, 2)
    assert fppi.tolist() == [0, 0, 0.5] and sens.tolist() == [0, 1, 1]
    assert sensitivity_at(fppi, sens, [0.1, 10]).tolist() == [1, 1]
    with pytest.raises(ValueError, match='det_scores has shape'):
        match_detections(np.zeros((2, 4)), np.zeros(3), np.zeros((1, 4)))


def test_a_config_finds_it_after_import_al_plugin():
    code = ('import al_plugin\n'
            'from mmengine.evaluator import Evaluator\n'
            'from mmengine.registry import DefaultScope\n'
            "DefaultScope.get_instance('t', scope_name='mmdet')\n"
            "e = Evaluator(dict(type='FROCMetric', iou_thr=0.3))\n"
            'print(type(e.metrics[0]).__name__, e.metrics[0].iou_thr)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ['FROCMetric', '0.3']
