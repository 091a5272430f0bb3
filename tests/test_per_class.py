"""Per-class AP per cycle (results.json's ``per_class_AP``, drawn by
``tools/plot_curves.py --per-class``), and what a tiny run of
configs/metrics_digits.py adds: FROC keys and early stopping within each
cycle (InCycleEarlyStoppingHook)."""
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from al_plugin.engine.hooks import InCycleEarlyStoppingHook
from al_plugin.evaluation import ClasswiseVOCMetric, per_class_ap
from al_plugin.evaluation.curves import rows_of_run
from al_plugin.work_dir import load_results
from mmdet.evaluation import CocoMetric
from .conftest import run_tool
from .test_froc import eval_sample
from .test_strategy_configs import run_tiny

#: the built-in set's classes (tools/make_digits_det.py), in label order
DIGITS = tuple(str(digit) for digit in range(10))


# -- the metrics ------------------------------------------------------------
def test_classwise_voc_metric_adds_the_ap_of_each_class():
    metric = ClasswiseVOCMetric(metric='mAP', eval_mode='11points')
    metric.dataset_meta = dict(classes=('cat', 'dog', 'bird'))
    box, other = (0, 0, 10, 10), (20, 20, 30, 30)
    metric.process({}, [
        # cat (0): found, score 0.9; dog (1): found, score 0.8
        eval_sample([box, other], [0, 1], [box, other], [0.9, 0.8], [0, 1]),
        # dog missed; a dog elsewhere scores 0.95: a false positive
        eval_sample([box], [1], [(40, 40, 50, 50)], [0.95], [1]),
    ])
    metrics = metric.evaluate(2)
    # cat: AP 1. dog, by score: FP, TP -> recall (0, 1/2), precision
    # (0, 1/2): 11-point AP = 0.5 at recall 0, 0.1, ..., 0.5 = 6 * 0.5 / 11
    assert metrics['pascal_voc/cat_AP50'] == pytest.approx(1.0)
    assert metrics['pascal_voc/dog_AP50'] == pytest.approx(3 / 11)
    assert 'pascal_voc/bird_AP50' not in metrics  # no ground truth
    # VOCMetric's own keys: the mean over the classes with ground truth
    assert metrics['pascal_voc/AP50'] == round((1 + 3 / 11) / 2, 3)
    assert per_class_ap(metrics, ('cat', 'dog', 'bird')) == {
        'pascal_voc/AP50': {'cat': pytest.approx(1.0),
                            'dog': pytest.approx(3 / 11), 'bird': None}}


def test_per_class_ap_of_cocos_classwise_metric(digits_root):
    ann_file = digits_root / 'annotations' / 'instances_test.json'
    coco = json.loads(ann_file.read_text())
    names = {c['id']: c['name'] for c in coco['categories']}
    # the model finds every (not crowd) box, of every class but '2'
    samples = []
    for image in coco['images']:
        boxes = [(a['bbox'], DIGITS.index(names[a['category_id']]))
                 for a in coco['annotations']
                 if a['image_id'] == image['id'] and not a['iscrowd']
                 and names[a['category_id']] != '2']
        xyxy = [(x, y, x + w, y + h) for (x, y, w, h), _ in boxes]
        samples.append(dict(
            img_id=image['id'], ori_shape=(image['height'], image['width']),
            pred_instances=dict(
                bboxes=torch.tensor(xyxy, dtype=torch.float32).reshape(
                    -1, 4),
                scores=torch.ones(len(boxes)),
                labels=torch.tensor([label for _, label in boxes],
                                    dtype=torch.long))))
    metric = CocoMetric(ann_file=str(ann_file), classwise=True)
    metric.dataset_meta = dict(classes=DIGITS)
    metric.process({}, samples)
    table = per_class_ap(metric.evaluate(len(samples)), DIGITS)
    assert list(table) == ['coco/precision']
    shown = {names[a['category_id']] for a in coco['annotations']
             if not a['iscrowd']}
    expected = {name: None if name not in shown else
                0.0 if name == '2' else 1.0 for name in DIGITS}
    assert '2' in shown and len(shown) < len(DIGITS)  # all three cases
    assert table['coco/precision'] == expected


def test_per_class_ap_keys_and_values():
    metrics = {'pascal_voc/mAP': 0.5, 'pascal_voc/a_b_AP50': 0.25,
               'pascal_voc/a_b_AP75': 0.125, 'coco/a_b_precision': 'nan',
               'pascal_voc/zebra_AP50': 1.0, 'froc/sensitivity@1': 0.5}
    assert per_class_ap(metrics, ['a_b', 'c']) == {
        'pascal_voc/AP50': {'a_b': 0.25, 'c': None},
        'pascal_voc/AP75': {'a_b': 0.125, 'c': None},
        'coco/precision': {'a_b': None, 'c': None}}
    assert per_class_ap({'pascal_voc/mAP': 0.5}, ['a_b']) == {}


# -- a tiny run ---------------------------------------------------------------
@pytest.fixture(scope='module')
def metrics_run(tmp_path_factory, digits_root):
    """configs/metrics_digits.py for 2 cycles of up to 4 epochs; no
    validation can gain 2 (min_delta): each cycle's training stops at its
    second validation, after epoch 2."""
    work_dir = tmp_path_factory.mktemp('metrics_run')
    proc = run_tiny('configs/metrics_digits.py', work_dir, digits_root,
                    'train_cfg.epochs=4', 'train_cfg.lr_decay_epochs=[3]',
                    'custom_hooks.1.interval=1', 'custom_hooks.1.patience=1',
                    'custom_hooks.1.min_delta=2.0')
    return work_dir, proc.stdout + proc.stderr


def _classes_with_ground_truth(digits_root):
    """The digits of the test set's boxes that are not difficult."""
    root = digits_root / 'VOCdevkit' / 'DIGITS2007'
    ids = (root / 'ImageSets' / 'Main' / 'test.txt').read_text().split()
    found = set()
    for img_id in ids:
        tree = ET.parse(root / 'Annotations' / f'{img_id}.xml')
        found |= {obj.findtext('name') for obj in tree.iter('object')
                  if obj.findtext('difficult') != '1'}
    return found


def test_results_carry_the_ap_of_each_class(metrics_run, digits_root):
    work_dir, _ = metrics_run
    results = json.loads((work_dir / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1]
    shown = _classes_with_ground_truth(digits_root)
    assert 0 < len(shown) < len(DIGITS)  # classes with and without
    for record in results:
        table = record['per_class_AP']['pascal_voc/AP50']
        assert list(table) == list(DIGITS)  # every class, by name
        for name, ap in table.items():
            if name in shown:
                assert ap == record['metrics'][f'pascal_voc/{name}_AP50']
                assert 0.0 <= ap <= 1.0
            else:
                assert ap is None
        # FROC, the headline first
        froc = [k for k in record['metrics'] if k.startswith('froc/')]
        assert froc[0] == 'froc/mean_sensitivity' and len(froc) == 8
    # the readers keep it
    assert load_results(str(work_dir))[1]['per_class_AP'] == \
        results[1]['per_class_AP']


def test_training_stops_early_in_each_cycle(metrics_run):
    work_dir, log = metrics_run
    results = json.loads((work_dir / 'results.json').read_text())
    for record in results:
        assert record['in_cycle_early_stop'].startswith(
            'after epoch 2 of 4: the monitored metric did not improve')
    assert [r['num_labeled'] for r in results] == [8, 12]  # it selected
    # 2 of the 4 epochs of each cycle (runner epochs count on)
    epochs = set(re.findall(
        r'\[cycle (\d) \| label\] Epoch\(train\) \[(\d+)\]', log))
    assert epochs == {('0', '1'), ('0', '2'), ('1', '3'), ('1', '4')}
    assert 'cycle 0: training stops early after epoch 2 of 4' in log
    assert 'cycle 1: training stops early after epoch 2 of 4' in log
    # the stopped epoch's checkpoint records the cycle's end and the
    # hook's state, and loads under weights_only
    ckpt = torch.load(work_dir / 'epoch_4.pth', map_location='cpu',
                      weights_only=True)
    assert ckpt['active_learning']['epoch_in_cycle'] == 4
    state = ckpt['in_cycle_early_stopping']
    assert (state['cycle'], state['wait_count']) == (1, 1)
    assert state['stopped'] == results[1]['in_cycle_early_stop']


def test_in_cycle_early_stopping_options():
    with pytest.raises(ValueError, match='InCycleEarlyStoppingHook.interval'):
        InCycleEarlyStoppingHook('pascal_voc/mAP', interval=0)
    with pytest.raises(ValueError, match='InCycleEarlyStoppingHook.patience'):
        InCycleEarlyStoppingHook('pascal_voc/mAP', patience=0)
    hook = InCycleEarlyStoppingHook('froc/mean_sensitivity', patience=2)
    hook.reset(3)
    # mmengine's rule: a gain under min_delta (0.001) counts as none
    assert hook._check_stop_condition(0.5) == (False, '')
    assert not hook._check_stop_condition(0.5005)[0]
    assert hook._check_stop_condition(0.5009)[0]
    hook.reset(4)  # a new cycle: patience and best score afresh
    assert (hook.cycle, hook.wait_count) == (4, 0)
    assert not hook._check_stop_condition(0.1)[0]


# -- the plot -----------------------------------------------------------------
def _rows():
    rows = []
    for name, gain in (('random', 0.0), ('entropy', 0.1)):
        for seed in (0, 1):
            for cycle in (0, 1, 2):
                table = {'cat': 0.2 * cycle + gain + 0.05 * seed,
                         'dog': 0.1 + 0.1 * cycle, 'bird': None}
                rows.append(dict(
                    strategy=name, seed=seed, cycle=cycle,
                    labeled_fraction=0.1 * (cycle + 1), metrics={},
                    num_labeled_boxes=100 * (cycle + 1),
                    per_class_AP={'pascal_voc/AP50': table}))
    return rows


def _check_png(path):
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with Image.open(path) as img:
        assert img.size[0] >= 600 and img.size[1] >= 250
        # not a blank canvas: lines and bands in colour
        assert len(img.convert('RGB').getcolors(1 << 20)) > 50


def test_plot_curves_per_class(tmp_path):
    path = tmp_path / 'compare.json'
    path.write_text(json.dumps(dict(rows=_rows())))
    run_tool(['tools/plot_curves.py', str(path), '--per-class', '--out',
              str(tmp_path / 'classes')])
    _check_png(tmp_path / 'classes.png')
    svg = (tmp_path / 'classes.svg').read_text()
    assert ET.fromstring(svg).tag.endswith('svg')
    assert 'class cat' in svg and 'class dog' in svg
    assert 'class bird' not in svg  # no value in any row: no panel
    assert 'random (n=2)' in svg and 'entropy (n=2)' in svg
    run_tool(['tools/plot_curves.py', str(path), '--per-class', '--out',
              str(tmp_path / 'gain'), '--baseline', 'random', '--x',
              'boxes'])
    svg = (tmp_path / 'gain.svg').read_text()
    assert 'entropy (n=2)' in svg and 'random (n=' not in svg
    # rows without per-class APs: the message says how to get them
    path.write_text(json.dumps(dict(rows=[
        dict(r, per_class_AP=None) for r in _rows()])))
    proc = run_tool(['tools/plot_curves.py', str(path), '--per-class',
                     '--out', str(tmp_path / 'none')], check=False)
    assert proc.returncode != 0 and 'ClasswiseVOCMetric' in proc.stderr
    assert not (tmp_path / 'none.png').exists()


def test_plot_curves_per_class_of_a_run(metrics_run, tmp_path):
    work_dir, _ = metrics_run
    rows = rows_of_run(load_results(str(work_dir)), 'metrics', 0)
    path = tmp_path / 'compare.json'
    path.write_text(json.dumps(dict(rows=rows)))
    run_tool(['tools/plot_curves.py', str(path), '--per-class', '--out',
              str(tmp_path / 'run')])
    svg = (tmp_path / 'run.svg').read_text()
    table = rows[0]['per_class_AP']['pascal_voc/AP50']
    for name, ap in table.items():
        assert (f'class {name}' in svg) == (ap is not None)
    assert np.isclose(rows[1]['labeled_fraction'], 12 / 32)
