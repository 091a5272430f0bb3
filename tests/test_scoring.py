"""The per-image outputs the selection hook computes, one-stage and
two-stage."""
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import al_plugin  # noqa: F401
from al_plugin.engine.scoring import (FAMILY_OUTPUTS, OUTPUTS, PoolBatch,
                                      compute_outputs, flip_inputs,
                                      unflip_boxes)
from al_plugin.models import (DenseHeadAdapter, TwoStageAdapter,
                              build_adapter)
from .conftest import REPO
from .utils import det_data_sample, tiny_miaod_model_cfg

DET_OUTPUTS = [n for n in OUTPUTS if n.startswith(('det_', 'flip_'))]


def _miaod(num_classes=3):
    register_all_modules()
    torch.manual_seed(0)
    cfg = tiny_miaod_model_cfg(num_classes=num_classes)
    cfg.test_cfg.score_thr = 0.0  # an untrained model: keep every box
    return MODELS.build(cfg).eval()


def _faster_rcnn():
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/faster_rcnn_tiny.py')
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    return MODELS.build(cfg.model).eval()


def _batch(n=3, size=64):
    torch.manual_seed(1)
    return torch.rand(n, 3, size, size), [
        det_data_sample(size=size) for _ in range(n)
    ]


def _outputs(model, names, inputs, samples, **cfg):
    return compute_outputs(build_adapter(model), inputs, samples, names, cfg)


def test_build_adapter_picks_the_family():
    assert type(build_adapter(_miaod())) is DenseHeadAdapter
    assert type(build_adapter(_faster_rcnn())) is TwoStageAdapter
    with pytest.raises(TypeError, match='DenseHeadAdapter'):
        build_adapter(torch.nn.Linear(2, 2))
    named = build_adapter(_miaod(), dict(type='TwoStageAdapter'))
    assert type(named) is TwoStageAdapter


def test_outputs_share_one_backbone_pass_and_have_one_row_per_image():
    model = _miaod()
    inputs, samples = _batch()
    calls = []
    model.backbone.register_forward_hook(lambda *a: calls.append(1))
    names = [n for n in OUTPUTS if not n.startswith('flip_')
             and n not in FAMILY_OUTPUTS]  # one-stage: no tightness
    out = _outputs(model, names, inputs, samples, k=50, max_boxes=7,
                   box_score_thr=0.0)
    assert len(calls) == 1
    assert out['features'].shape == (3, 64 * 5)  # 5 FPN levels of 64 ch
    assert out['class_probs'].dtype == object
    assert all(p.shape == (7, 3) for p in out['class_probs'])
    assert all(((p >= 0) & (p <= 1)).all() for p in out['class_probs'])
    with torch.no_grad():
        expected = model.predict_uncertainty(inputs, samples, k=50)
    np.testing.assert_allclose(out['instance_uncertainty'],
                               expected.numpy(), rtol=1e-6)
    # the flipped copies cost exactly one more pass
    calls.clear()
    _outputs(model, DET_OUTPUTS, inputs, samples)
    assert len(calls) == 2


def test_detections_are_the_models_own_predictions():
    for model in (_miaod(), _faster_rcnn()):
        inputs, samples = _batch(n=2)
        out = _outputs(model, DET_OUTPUTS, inputs, samples)
        with torch.no_grad():
            expected = model.predict(inputs, samples, rescale=True)
        for i, sample in enumerate(expected):
            pred = sample.pred_instances
            assert len(pred) > 0
            np.testing.assert_allclose(out['det_boxes'][i],
                                       pred.bboxes.numpy(), rtol=1e-5)
            np.testing.assert_allclose(out['det_scores'][i],
                                       pred.scores.numpy(), rtol=1e-5)
            assert out['det_labels'][i].dtype == np.int64
            np.testing.assert_array_equal(out['det_labels'][i],
                                          pred.labels.numpy())
            assert out['flip_boxes'][i].shape[1] == 4


def test_flipped_detections_are_mapped_back_to_the_image():
    """Image 1 is image 0 flipped: the flipped pass of image 0 must equal
    the plain pass of image 1, mapped back."""
    model = _miaod()
    torch.manual_seed(2)
    image = torch.rand(3, 64, 48)
    inputs = torch.zeros(2, 3, 64, 64)  # padded on the right
    inputs[0, :, :, :48] = image
    inputs[1, :, :, :48] = image.flip(-1)
    samples = [det_data_sample(size=64) for _ in range(2)]
    for s in samples:
        s.set_metainfo(dict(img_shape=(64, 48), ori_shape=(64, 48)))
    assert torch.equal(flip_inputs(inputs, samples)[0], inputs[1])
    out = _outputs(model, DET_OUTPUTS, inputs, samples)
    assert len(out['det_boxes'][1])
    np.testing.assert_allclose(
        out['flip_boxes'][0],
        unflip_boxes(torch.from_numpy(out['det_boxes'][1]), 48).numpy(),
        atol=1e-4)
    np.testing.assert_allclose(out['flip_scores'][0], out['det_scores'][1],
                               rtol=1e-5)


def test_class_probs_keep_the_most_confident_candidates_above_threshold():
    for model, num_classes in ((_miaod(), 3), (_faster_rcnn(), 10)):
        inputs, samples = _batch(n=2)
        batch = PoolBatch(build_adapter(model), inputs, samples)
        with torch.no_grad():
            everything = OUTPUTS['class_probs'](
                batch, max_boxes=10**6, box_score_thr=0.0)
            top = OUTPUTS['class_probs'](batch, max_boxes=5,
                                         box_score_thr=0.0)
            none = OUTPUTS['class_probs'](batch, max_boxes=5,
                                          box_score_thr=1.1)
        for all_rows, top_rows, no_rows in zip(everything, top, none):
            assert all_rows.shape[1] == num_classes  # no background column
            assert len(all_rows) > 5
            best = np.sort(all_rows.max(1))[::-1][:5]
            np.testing.assert_allclose(top_rows.max(1), best, rtol=1e-6)
            assert no_rows.shape == (0, num_classes)


def test_instance_uncertainty_needs_an_miaod_head():
    inputs, samples = _batch(n=1)
    with pytest.raises(NotImplementedError, match='MI-AOD head'):
        _outputs(_faster_rcnn(), ['instance_uncertainty'], inputs, samples)


def test_each_output_takes_only_its_own_options():
    from al_plugin.engine.scoring import output_options, scorer_options
    assert output_options('instance_uncertainty') == dict(k=10000)
    assert output_options('class_probs') == dict(max_boxes=100,
                                                 box_score_thr=0.05)
    assert output_options('features') == {}
    assert output_options('grad_embedding') == dict(
        max_boxes=100, box_score_thr=0.05, grad_dims=1024)
    assert scorer_options() == dict(k=10000, max_boxes=100,
                                    box_score_thr=0.05, grad_dims=1024)
    model = _miaod()
    inputs, samples = _batch(n=2)
    # a scorer_cfg for several outputs: each gets its own options
    out = _outputs(model, ['class_probs', 'instance_uncertainty'], inputs,
                   samples, k=50, max_boxes=3, box_score_thr=0.0)
    assert [len(p) for p in out['class_probs']] == [3, 3]
    # nothing is swallowed: a function called with another's option fails
    batch = PoolBatch(build_adapter(model), inputs, samples)
    with pytest.raises(TypeError, match='k'):
        OUTPUTS['class_probs'](batch, k=50)
    with pytest.raises(TypeError, match="'kk'"):
        _outputs(model, ['features'], inputs, samples, kk=3)
