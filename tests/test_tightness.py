"""Localization tightness (Kao et al., 2018): the two-stage output against
hand-computed boxes and mmdet's own decoding, the strategy's per-box and
per-image scores by hand, padding independence, and a clear failure on a
one-stage detector (at config load and at scoring)."""
import math

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import al_plugin  # noqa: F401
from al_plugin.engine.config_check import (adapter_gives,
                                           check_model_outputs,
                                           check_selection_hooks)
from al_plugin.engine.scoring import PoolBatch, compute_outputs, tightness
from al_plugin.models import (DenseHeadAdapter, TwoStageAdapter,
                              build_adapter)
from al_plugin.models.tightness import box_tightness
from al_plugin.registry import STRATEGIES
from al_plugin.strategies import LocalizationTightnessStrategy
from al_plugin.strategies.localization import box_iou
from .conftest import REPO
from .utils import det_data_sample

CFG = dict(max_boxes=1000, box_score_thr=0.0)


def _model(kind='faster_rcnn', num_classes=10):
    """The tiny digits model of ``configs/_base_/models/<kind>_tiny.py``,
    random init with head weights of variance 2 / fan-in (well separated
    scores, so rankings are not decided by rounding)."""
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/{kind}_tiny.py')
    cfg.model.backbone.init_cfg = None
    if kind == 'faster_rcnn':
        cfg.model.roi_head.bbox_head.num_classes = num_classes
        cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    model = MODELS.build(cfg.model).eval()
    torch.manual_seed(3)
    for name in ('rpn_head', 'roi_head'):
        for module in getattr(model, name, torch.nn.Module()).modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(module.weight)
    return model


def _bbox_head(reg_class_agnostic=False):
    """The tiny Faster R-CNN's box head with 3 classes (coder stds 0.1,
    0.1, 0.2, 0.2: a raw delta ``d`` moves the centre by ``0.1 d`` widths
    and scales the width by ``exp(0.2 d)``)."""
    register_all_modules()
    cfg = Config.fromfile(
        f'{REPO}/configs/_base_/models/faster_rcnn_tiny.py')
    cfg = cfg.model.roi_head.bbox_head
    cfg.update(num_classes=3, reg_class_agnostic=reg_class_agnostic)
    return MODELS.build(cfg)


# ------------------------------------------------------ the output, by hand
def test_box_tightness_by_hand():
    head = _bbox_head()
    proposals = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 10.],
                              [0., 0., 10., 10.]])
    # logits of classes 0, 1, 2 and the background (last)
    cls_score = torch.tensor([[2., 0., 0., 1.], [0., 3., 0., 0.],
                              [0., 0., 1., 0.]])
    bbox_pred = torch.zeros(3, 3 * 4)
    # box 0 (class 0): its own deltas are 0; another class's would move it
    bbox_pred[0, 4:8] = torch.tensor([5., 0., 0., 0.])
    # box 1 (class 1): the centre moves 0.1 * 5 = 0.5 widths to the right
    bbox_pred[1, 4:8] = torch.tensor([5., 0., 0., 0.])
    # box 2 (class 2): width x2 about the centre, clipped at x = 0
    bbox_pred[2, 8:12] = torch.tensor([0., 0., math.log(2) / 0.2, 0.])
    rows = box_tightness(head, proposals, cls_score, bbox_pred, (20, 20))
    assert rows.shape == (3, 2)
    e = math.e
    expected = torch.tensor([
        [1.0, e**2 / (e**2 + 2 + e)],  # refined box == proposal
        [50 / 150, e**3 / (e**3 + 3)],  # [5, 0, 15, 10]
        [100 / 150, e / (e + 3)],  # [-5, 0, 15, 10] -> [0, 0, 15, 10]
    ])
    torch.testing.assert_close(rows, expected, rtol=1e-5, atol=1e-6)


def test_box_tightness_class_agnostic_and_empty():
    head = _bbox_head(reg_class_agnostic=True)
    proposals = torch.tensor([[10., 10., 30., 20.]])
    # dy = 0.1 * 10 = 1 height (10 px) down: [10, 20, 30, 30], no overlap
    rows = box_tightness(head, proposals, torch.zeros(1, 4),
                         torch.tensor([[0., 10., 0., 0.]]), (40, 40))
    torch.testing.assert_close(rows, torch.tensor([[0.0, 0.25]]))
    # no regression: the proposal stays, tightness 1
    rows = box_tightness(head, proposals, torch.zeros(1, 4), None, (40, 40))
    assert rows[0, 0] == 1.0
    empty = box_tightness(head, torch.zeros(0, 4), torch.zeros(0, 4),
                          torch.zeros(0, 12), (40, 40))
    assert empty.shape == (0, 2)


def test_refined_boxes_are_mmdets_decoded_boxes():
    """The refined box is the one mmdet's box head predicts for the
    proposal's top class (``predict_by_feat`` without NMS): tightness is
    its IoU with the proposal, recomputed here in numpy."""
    model = _model()
    adapter = build_adapter(model)
    torch.manual_seed(1)
    inputs = torch.rand(2, 3, 96, 96)
    samples = [det_data_sample(size=96) for _ in range(2)]
    samples[1].set_metainfo(dict(img_shape=(80, 60)))
    with torch.no_grad():
        feats = adapter.extract_feat(inputs)
        proposals = adapter.proposals(feats, samples)
        rows = adapter.proposal_tightness(feats, samples)
        cls_score, bbox_pred = model.roi_head.forward(feats, proposals)
        rois = torch.cat([
            torch.cat([p.bboxes.new_full((len(p), 1), i), p.bboxes], 1)
            for i, p in enumerate(proposals)
        ])
        sizes = [len(p) for p in proposals]
        preds = model.roi_head.bbox_head.predict_by_feat(
            rois.split(sizes), cls_score.split(sizes), bbox_pred.split(sizes),
            [s.metainfo for s in samples], rcnn_test_cfg=None)
    for image, (row, pred, prop) in enumerate(zip(rows, preds, proposals)):
        assert len(row) == len(prop) > 10, image
        label = pred.scores[:, :-1].argmax(1)
        refined = pred.bboxes.view(len(prop), -1, 4)[torch.arange(len(prop)),
                                                     label]
        iou = np.diag(box_iou(prop.bboxes.numpy(), refined.numpy()))
        np.testing.assert_allclose(row[:, 0].numpy(), iou, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(row[:, 1].numpy(),
                                   pred.scores[:, :-1].max(1).values.numpy(),
                                   rtol=1e-6)
        assert 0 <= iou.min() < 0.99 and iou.max() <= 1  # boxes moved


def test_output_keeps_the_most_confident_boxes_above_threshold():
    model = _model()
    torch.manual_seed(1)
    inputs = torch.rand(2, 3, 64, 64)
    samples = [det_data_sample() for _ in range(2)]
    batch = PoolBatch(build_adapter(model), inputs, samples)
    with torch.no_grad():
        everything = tightness(batch, max_boxes=10**6, box_score_thr=0.0)
        top = tightness(batch, max_boxes=5, box_score_thr=0.0)
        thr = float(np.median(everything[0][:, 1]))
        above = tightness(batch, max_boxes=10**6, box_score_thr=thr)
    for all_rows, top_rows in zip(everything, top):
        assert all_rows.dtype == np.float32 and all_rows.shape[1] == 2
        assert np.all(np.diff(all_rows[:, 1]) <= 0)  # most confident first
        np.testing.assert_array_equal(top_rows, all_rows[:5])
    assert len(above[0]) == int((everything[0][:, 1] >= thr).sum())
    assert np.all(above[0][:, 1] >= thr)


def test_padding_never_enters_the_tightness():
    """Three images of two padded shapes in one batch give the rows each
    gives alone, at its own padded shape (what a batch of one sees)."""
    model = _model()
    adapter = build_adapter(model)
    torch.manual_seed(1)
    inputs = torch.zeros(3, 3, 96, 96)
    samples = [det_data_sample(size=96) for _ in range(3)]
    shapes = [(96, 64), (60, 90), (70, 40)]
    for i, (h, w) in enumerate(shapes):
        inputs[i, :, :h, :w] = torch.rand(3, h, w)
        samples[i].set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w)))
    batched = compute_outputs(adapter, inputs, samples, ['tightness'],
                              CFG)['tightness']
    for i, (h, w) in enumerate(shapes):
        ph, pw = 32 * math.ceil(h / 32), 32 * math.ceil(w / 32)
        sample = det_data_sample(size=96)
        sample.set_metainfo(
            dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(ph, pw),
                 batch_input_shape=(ph, pw)))
        alone = compute_outputs(adapter, inputs[i:i + 1, :, :ph, :pw].clone(),
                                [sample], ['tightness'], CFG)['tightness'][0]
        assert len(alone) > 10 and alone.shape == batched[i].shape, i
        np.testing.assert_allclose(batched[i], alone, rtol=1e-4, atol=1e-6,
                                   err_msg=f'image {i}')
        assert np.all((alone >= 0) & (alone <= 1))


# ------------------------------------------------------------- one-stage
def test_one_stage_detectors_say_they_cannot():
    assert adapter_gives(TwoStageAdapter, 'tightness')
    assert not adapter_gives(DenseHeadAdapter, 'tightness')
    assert adapter_gives(DenseHeadAdapter, 'class_probs')
    model = _model('retinanet')
    with pytest.raises(NotImplementedError,
                       match='tightness of RetinaNet.*one-stage.*two-stage'):
        compute_outputs(build_adapter(model), torch.rand(1, 3, 64, 64),
                        [det_data_sample()], ['tightness'], {})


def test_config_load_names_the_output_and_the_family():
    hook = dict(type='ActiveSelectionHook',
                strategy=dict(type='LocalizationTightnessStrategy'))
    cfg = Config.fromfile(f'{REPO}/configs/random_digits.py')
    cfg.custom_hooks = [hook]
    with pytest.raises(TypeError) as error:
        check_selection_hooks(cfg)
    message = str(error.value)
    for part in ('custom_hooks[0]', 'LocalizationTightnessStrategy',
                 "'tightness'", 'model.type=RetinaNet', 'one-stage',
                 'TwoStageAdapter'):
        assert part in message, (part, message)
    # the two-stage configs pass, and an adapter a hook names is the one
    for name in ('tightness_faster_rcnn_digits.py',
                 'tightness_faster_rcnn_voc0712.py'):
        check_selection_hooks(Config.fromfile(f'{REPO}/configs/{name}'))
    with pytest.raises(TypeError, match='DenseHeadAdapter cannot'):
        check_model_outputs(['tightness'], dict(type='FasterRCNN'),
                            dict(type='DenseHeadAdapter'))
    check_model_outputs(['tightness', 'features'], dict(type='FasterRCNN'))


# ------------------------------------------------------------ the strategy
def per_image(*arrays):
    out = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):
        out[i] = np.asarray(array, dtype=np.float64).reshape(-1, 2)
    return out


#: rows (T, P); J = |T + P - 1| per box
ROWS = per_image(
    [[0.9, 0.95], [0.2, 0.1]],  # J = 0.85, 0.7: both consistent
    [[0.9, 0.1], [1.0, 1.0]],  # J = 0.0 (tight, doubted), 1.0
    [[0.5, 0.8]],  # J = 0.3 (moved, yet confident)
    [],  # no box kept
)


def test_per_box_and_per_image_scores_by_hand():
    strategy = LocalizationTightnessStrategy()
    np.testing.assert_allclose(
        strategy.box_consistency(ROWS[0]), [0.85, 0.7])
    np.testing.assert_allclose(
        strategy.score(dict(tightness=ROWS)), [0.3, 1.0, 0.7, 0.0])
    positions, scores = strategy.select(dict(tightness=ROWS), 2, 4)
    assert positions.tolist() == [1, 2]  # the least consistent first
    mean = LocalizationTightnessStrategy(reduction='mean', empty_score=2.0)
    np.testing.assert_allclose(
        mean.score(dict(tightness=ROWS)), [0.225, 0.5, 0.7, 2.0])
    assert mean.select(dict(tightness=ROWS), 1, 4)[0].tolist() == [3]


def test_strategy_checks_its_options_and_input():
    built = STRATEGIES.build(dict(type='LocalizationTightnessStrategy'))
    assert built.requires == ('tightness', )
    with pytest.raises(ValueError, match="'min', 'mean'.*'max'"):
        LocalizationTightnessStrategy(reduction='max')
    with pytest.raises(TypeError, match='empty_score'):
        LocalizationTightnessStrategy(empty_score='high')
    bad = np.empty(2, dtype=object)
    bad[0], bad[1] = np.zeros((1, 2)), np.zeros((2, 3))
    with pytest.raises(ValueError, match=r'tightness\[1\].*\(2, 3\)'):
        LocalizationTightnessStrategy().score(dict(tightness=bad))
    cfg = Config.fromfile(f'{REPO}/configs/tightness_faster_rcnn_digits.py')
    cfg.custom_hooks[0].strategy.reduce = 'min'
    with pytest.raises(TypeError, match="'reduce'.*reduction='min'"):
        check_selection_hooks(cfg)
