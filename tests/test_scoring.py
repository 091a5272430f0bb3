"""The per-image outputs the selection hook computes in one pass."""
import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

import al_plugin  # noqa: F401
from al_plugin.engine.scoring import OUTPUTS, compute_outputs
from .utils import det_data_sample, tiny_miaod_model_cfg


def _model_and_batch(n=3, num_classes=3):
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(tiny_miaod_model_cfg(num_classes=num_classes))
    model.eval()
    inputs = torch.rand(n, 3, 64, 64)
    samples = [det_data_sample() for _ in range(n)]
    return model, inputs, samples


def test_outputs_share_one_backbone_pass_and_have_one_row_per_image():
    model, inputs, samples = _model_and_batch()
    calls = []
    model.backbone.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        out = compute_outputs(model, inputs, samples, list(OUTPUTS),
                              dict(k=50, max_boxes=7, box_score_thr=0.0))
    assert len(calls) == 1
    assert out['features'].shape == (3, 64 * 5)  # 5 FPN levels of 64 ch
    assert out['class_probs'].dtype == object
    assert all(p.shape == (7, 3) for p in out['class_probs'])
    assert all(((p >= 0) & (p <= 1)).all() for p in out['class_probs'])
    with torch.no_grad():
        expected = model.predict_uncertainty(inputs, samples, k=50)
    np.testing.assert_allclose(out['instance_uncertainty'],
                               expected.numpy(), rtol=1e-6)


def test_class_probs_keep_the_most_confident_anchors_above_threshold():
    model, inputs, samples = _model_and_batch(n=2)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        everything = OUTPUTS['class_probs'](
            model, feats, samples, max_boxes=10**6, box_score_thr=0.0)
        top = OUTPUTS['class_probs'](
            model, feats, samples, max_boxes=5, box_score_thr=0.0)
        none = OUTPUTS['class_probs'](
            model, feats, samples, max_boxes=5, box_score_thr=1.1)
    for all_rows, top_rows, no_rows in zip(everything, top, none):
        best = np.sort(all_rows.max(1))[::-1][:5]
        np.testing.assert_allclose(top_rows.max(1), best, rtol=1e-6)
        assert no_rows.shape == (0, 3)
