"""MIAODHead and MIAOD: the MI-AOD math on hand-computed tensors, then a tiny
real model (64x64 inputs, random init)."""
import math
import os.path as osp

import mmdet
import numpy as np
import pytest
import torch
from mmdet.models.dense_heads import AnchorHead
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.structures import InstanceData

import al_plugin.models  # noqa: F401
from al_plugin.models.dense_heads import MIAODHead
from al_plugin.models.losses import (instance_uncertainty, mil_image_scores,
                                     mil_instance_scores, pseudo_image_labels,
                                     pseudo_label_mil_loss, wave_discrepancy)
from al_plugin.models.utils import levels_to_instances
from .utils import det_data_sample, tiny_miaod_model_cfg

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# 64x64 inputs, strides 8..128: the feature map sizes of the five levels
LEVEL_SIZES = (8, 4, 2, 1, 1)
# the classifiers' initial bias: sigmoid(PRIOR_BIAS) = 0.01
PRIOR_BIAS = -math.log((1 - 0.01) / 0.01)


def t(values):
    return torch.tensor(values, dtype=torch.float32)


# --------------------------------------------------------------------------
# The MI-AOD math, by hand
# --------------------------------------------------------------------------
def test_levels_to_instances_follows_prior_order():
    # (N=1, A=2 anchors * C=3, H=1, W=2): channel a * C + c
    score = torch.arange(12.).reshape(1, 6, 1, 2)
    flat, = levels_to_instances([score], 3)
    assert flat.shape == (1, 4, 3)
    # anchors ordered (h, w, a), as mmdet's grid_priors
    assert flat[0, 1].tolist() == [6., 8., 10.]  # w=0, a=1
    assert flat[0, 2].tolist() == [1., 3., 5.]  # w=1, a=0


def test_mil_image_scores_by_hand():
    # Level 0, two anchors, C=2: f1 = f2 with the same max sigmoid on both
    # anchors, so the softmax over anchors is (0.5, 0.5).
    f_1 = t([[[0., 1.], [1., 0.]]])
    f_mil = t([[[0., 0.], [math.log(3), 0.]]])  # softmax (.5 .5), (.75 .25)
    y_0 = mil_instance_scores(f_1, f_1.clone(), f_mil)
    torch.testing.assert_close(y_0, t([[[0.25, 0.25], [0.375, 0.125]]]))
    # Level 1, one anchor: its softmax over anchors is 1.
    y_1 = mil_instance_scores(
        t([[[3., -2.]]]), t([[[1., 5.]]]), t([[[0., math.log(9)]]]))
    torch.testing.assert_close(y_1, t([[[0.1, 0.9]]]))
    # S = max over levels of the sums over anchors: max((.625, .375),
    # (.1, .9))
    torch.testing.assert_close(mil_image_scores([y_0, y_1]), t([[0.625, 0.9]]))


def test_mil_anchor_weights_use_sigmoid_of_mean_logit():
    # anchor 0: max_c sigmoid((4 + 0) / 2) = sigmoid(2) (class 1);
    # anchor 1: sigmoid(50) = 1 (class 0). Not the mean of the sigmoids.
    f_1 = t([[[-3., 4.], [50., -9.]]])
    f_2 = t([[[-3., 0.], [50., -9.]]])
    f_mil = t([[[0., 0.], [0., 0.]]])
    s2 = 1 / (1 + math.exp(-2))
    w_0 = math.exp(s2) / (math.exp(s2) + math.exp(1.))
    y = mil_instance_scores(f_1, f_2, f_mil)
    torch.testing.assert_close(
        y, t([[[w_0 / 2, w_0 / 2], [(1 - w_0) / 2, (1 - w_0) / 2]]]))


def test_mil_score_detaches_instance_classifiers_and_clamps():
    f_1 = torch.zeros(2, 2, 2, requires_grad=True)
    f_2 = torch.zeros(2, 2, 2, requires_grad=True)
    # image 0 is sure of class 0, image 1 unsure (uniform softmax)
    f_mil = t([[[100., -100.], [100., -100.]], [[0., 0.], [0., 0.]]])
    f_mil.requires_grad_()
    scores = mil_image_scores([mil_instance_scores(f_1, f_2, f_mil)])
    torch.testing.assert_close(scores, t([[1 - 1e-5, 1e-5], [0.5, 0.5]]))
    scores[1, 0].backward()
    # the second factor is detached: f1/f2 get no gradient from the MIL
    assert f_1.grad is None and f_2.grad is None
    assert f_mil.grad[1].abs().sum() > 0


def test_mil_single_class_uses_sigmoid():
    # C = 1: a softmax over one class would always give y_cls = anchor
    # weight, S = 1, and nothing to learn.
    f_1 = torch.zeros(1, 2, 1)
    f_mil = t([[[0.], [math.log(3)]]])  # sigmoid 0.5 and 0.75
    f_mil.requires_grad_()
    scores = mil_image_scores([mil_instance_scores(f_1, f_1, f_mil)])
    torch.testing.assert_close(scores, t([[0.5 * 0.5 + 0.5 * 0.75]]))
    loss = torch.nn.functional.binary_cross_entropy(scores, t([[0.]]))
    assert loss.item() == pytest.approx(-math.log(1 - 0.625), rel=1e-5)
    loss.backward()
    assert f_mil.grad.abs().sum() > 0


def test_pseudo_labels_and_batch_zero_rule():
    # two images, two anchors, C=3; (p1 + p2) / 2 per anchor and class
    probs = t([[[0.9, 0.1, 0.75], [0.1, 0.3, 0.0]],
               [[0.2, 0.1, 0.0], [0.4, 0.2, 0.3]]])
    probs_2 = t([[[0.2, 0.1, 0.25], [0.1, 0.8, 0.0]],
                 [[0.2, 0.1, 0.0], [0.4, 0.6, 0.5]]])
    # image 0: max means (0.55, 0.55, 0.5) -> 0.5 counts; image 1: all < .5
    labels = pseudo_image_labels(probs, probs_2)
    assert labels.tolist() == [[1., 1., 1.], [0., 0., 0.]]

    scores = t([[0.8, 0.6, 0.3], [0.1, 0.2, 0.9]]).requires_grad_()
    loss = pseudo_label_mil_loss(scores, labels)
    # image 1 has no pseudo-positive class: the whole batch's loss is zero,
    # still on the graph
    assert loss.item() == 0 and loss.grad_fn is not None
    loss.backward()
    assert scores.grad.abs().sum() == 0

    labels[1, 2] = 1.
    loss = pseudo_label_mil_loss(scores, labels)
    expected = -(math.log(0.8) + math.log(0.6) + math.log(0.3) +
                 math.log(0.9) + math.log(0.8) + math.log(0.9)) / 6
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_wave_discrepancy_by_hand():
    probs = t([[[0.9, 0.5], [0.2, 0.2]]])
    probs_2 = t([[[0.1, 0.5], [0.6, 0.2]]])
    weights = t([[[0.5, 0.25], [0.1, 0.4]]])
    # |p1 - p2| = [[.8, 0], [.4, 0]]: mean_c(w * d) = .2 + .02
    assert wave_discrepancy(probs, probs_2, weights).item() == \
        pytest.approx(0.22)
    # 1 - |p1 - p2| = [[.2, 1], [.6, 1]]: (.1 + .25) / 2 + (.06 + .4) / 2
    assert wave_discrepancy(probs, probs_2, weights, maximize=True).item() \
        == pytest.approx(0.405)


def test_instance_uncertainty_top_k_mean():
    probs = t([[[0.5, 0.5], [1.0, 0.0], [0.2, 0.4]],
               [[0.0, 0.0], [0.0, 0.0], [0.0, 0.6]]])
    probs_2 = t([[[0.5, 0.5], [0.0, 0.0], [0.4, 0.0]],
                 [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    # per anchor mean_c((p1 - p2)^2): image 0 (0, .5, .1), image 1 (0, 0, .18)
    torch.testing.assert_close(
        instance_uncertainty(probs, probs_2, k=10000), t([0.2, 0.06]))
    torch.testing.assert_close(
        instance_uncertainty(probs, probs_2, k=2), t([0.3, 0.09]))
    torch.testing.assert_close(
        instance_uncertainty(probs, probs_2, k=1), t([0.5, 0.18]))


# --------------------------------------------------------------------------
# The head alone, on random features
# --------------------------------------------------------------------------
def build_head(num_classes, param_lambda=0.5, feat_channels=8):
    cfg = tiny_miaod_model_cfg(num_classes)
    cfg.train_cfg.param_lambda = param_lambda
    cfg.bbox_head.update(
        in_channels=feat_channels,
        feat_channels=feat_channels,
        stacked_convs=1,
        train_cfg=cfg.train_cfg,
        test_cfg=cfg.test_cfg)
    head = MODELS.build(cfg.bbox_head)
    head.init_weights()
    return head


def random_features(batch_size=2, channels=8):
    return tuple(torch.randn(batch_size, channels, s, s) for s in LEVEL_SIZES)


def test_forward_single_shapes_and_init():
    head = build_head(num_classes=3)
    outs = head.forward_single(torch.randn(2, 8, 4, 5))
    a = head.num_base_priors
    assert [o.shape for o in outs] == [(2, a * 3, 4, 5), (2, a * 4, 4, 5),
                                       (2, a * 3, 4, 5), (2, a * 3, 4, 5)]
    for conv in (head.f_1_cls, head.f_2_cls, head.f_mil_cls):
        torch.testing.assert_close(conv.bias,
                                   torch.full_like(conv.bias, PRIOR_BIAS))


def test_init_matches_the_reference_per_tower():
    # the reference: f_1, f_2, f_r towers N(0, 0.01); the f_mil tower keeps
    # ConvModule's Kaiming init (fan_out, ReLU: std sqrt(2 / fan_out)); the
    # three classifiers get the 0.01 prior bias, f_r_reg bias 0. Through the
    # detector's init_weights, as a run initialises it.
    torch.manual_seed(0)
    model = MODELS.build(tiny_miaod_model_cfg(num_classes=3))
    model.init_weights()
    head = model.bbox_head
    for branch in ('f_1', 'f_2', 'f_r', 'f_mil'):
        tower = getattr(head, f'{branch}_convs')
        final_conv = getattr(head, head.FINAL_CONVS[branch])
        assert len(tower) == 2
        for conv_module in tower:
            conv = conv_module.conv
            fan_out = conv.out_channels * conv.kernel_size[0] * \
                conv.kernel_size[1]
            std = math.sqrt(2 / fan_out) if branch == 'f_mil' else 0.01
            assert conv.weight.std().item() == pytest.approx(std, rel=0.05)
            assert abs(conv.weight.mean().item()) < std / 20
            assert conv.bias.abs().max() == 0
        assert final_conv.weight.std().item() == pytest.approx(
            0.01, rel=0.05)
        bias = 0. if branch == 'f_r' else PRIOR_BIAS
        torch.testing.assert_close(final_conv.bias,
                                   torch.full_like(final_conv.bias, bias))


@pytest.mark.parametrize('param_lambda', [0.5, 1.0])
def test_wave_dis_sanity_bound(param_lambda):
    # batch 2, 5 levels, C=20: y_cls sums to 1 per image and level, so
    # sum mean_c(w) = 2 * 5 / 20 and, with lambda 0.5, wave_dis <= 0.25 and
    # wave_dis + wave_dis_minus = 0.25
    torch.manual_seed(0)
    head = build_head(num_classes=20, param_lambda=param_lambda)
    for _, param in head.adversarial_parameters():  # make p1 and p2 differ
        torch.nn.init.normal_(param, std=1.)
    x = random_features(batch_size=2)
    dis = head.loss_unlabeled(x, [], step='min')['loss_wave_dis']
    dis_minus = head.loss_unlabeled(x, [], step='max')['loss_wave_dis_minus']
    total = param_lambda * 0.5
    assert 0.1 * total < dis.item() <= total
    assert dis.item() + dis_minus.item() == pytest.approx(total, rel=1e-5)


def test_loss_unlabeled_matches_the_formulas():
    torch.manual_seed(1)
    head = build_head(num_classes=3)
    torch.nn.init.normal_(head.f_1_cls.weight, std=1.)
    for conv in (head.f_1_cls, head.f_2_cls):  # every class >= 0.5
        torch.nn.init.constant_(conv.bias, 2.)
    x = random_features(batch_size=2)
    losses = head.loss_unlabeled(x, [], step='min')
    assert set(losses) == {'loss_wave_dis', 'loss_imgcls'}

    # independently, in numpy, from the full forward
    cls, _, cls_2, mil = ([
        o.detach().permute(0, 2, 3, 1).reshape(2, -1, 3).numpy() for o in outs
    ] for outs in head(x))

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    def softmax(v, axis):
        e = np.exp(v - v.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    y_cls = [
        softmax(m, 2) * softmax(sigmoid((c1 + c2) / 2).max(2), 1)[..., None]
        for c1, c2, m in zip(cls, cls_2, mil)
    ]
    p_1, p_2, w = (
        np.concatenate(v, 1)
        for v in ([sigmoid(c) for c in cls], [sigmoid(c)
                                              for c in cls_2], y_cls))
    assert losses['loss_wave_dis'].item() == pytest.approx(
        0.5 * (w * np.abs(p_1 - p_2)).mean(2).sum(), rel=1e-4)
    scores = np.clip(np.max([y.sum(1) for y in y_cls], 0), 1e-5, 1 - 1e-5)
    assert (((p_1 + p_2) / 2).max(1) >= 0.5).all()
    bce = -np.log(scores).mean()  # every pseudo label is 1
    assert losses['loss_imgcls'].item() == pytest.approx(bce, rel=1e-4)


def test_loss_unlabeled_rejects_unknown_step():
    head = build_head(num_classes=3)
    with pytest.raises(ValueError, match='step'):
        head.loss_unlabeled(random_features(), [], step='label')


def test_labeled_loss_averages_f1_f2_focal_losses():
    torch.manual_seed(2)
    head = build_head(num_classes=3)
    torch.nn.init.normal_(head.f_2_cls.weight, std=0.5)  # f2 != f1
    x = random_features(batch_size=2)
    samples = [
        det_data_sample([[4., 4., 40., 36.]], [1]),
        det_data_sample([[10., 8., 30., 60.], [0., 0., 63., 63.]], [0, 1])
    ]
    # a difficult box of class 2: ignored, so not in image 1's multi-hot
    samples[1].ignored_instances = InstanceData(
        bboxes=t([[20., 20., 40., 40.]]), labels=torch.tensor([2]))
    losses = head.loss(x, samples)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_imgcls'}

    cls_scores, bbox_preds, cls_scores_2, mil_scores = head(x)
    gts = [s.gt_instances for s in samples]
    metas = [s.metainfo for s in samples]
    ignore = [s.get('ignored_instances') for s in samples]
    # mmdet's own RetinaNet losses of each classifier
    ref_1 = AnchorHead.loss_by_feat(head, cls_scores, bbox_preds, gts, metas,
                                    ignore)
    ref_2 = AnchorHead.loss_by_feat(head, cls_scores_2, bbox_preds, gts, metas,
                                    ignore)
    for level in range(len(LEVEL_SIZES)):
        torch.testing.assert_close(
            losses['loss_cls'][level],
            (ref_1['loss_cls'][level] + ref_2['loss_cls'][level]) / 2)
        torch.testing.assert_close(losses['loss_bbox'][level],
                                   ref_1['loss_bbox'][level])
    assert not torch.allclose(ref_1['loss_cls'][0], ref_2['loss_cls'][0])

    instances = [
        levels_to_instances(s, 3)
        for s in (cls_scores, cls_scores_2, mil_scores)
    ]
    scores = mil_image_scores(
        [mil_instance_scores(*level) for level in zip(*instances)])
    multi_hot = t([[0., 1., 0.], [1., 1., 0.]])
    torch.testing.assert_close(
        losses['loss_imgcls'],
        torch.nn.functional.binary_cross_entropy(scores, multi_hot))


def test_single_class_head_mil_loss_learns():
    head = build_head(num_classes=1)
    x = random_features(batch_size=2)
    samples = [det_data_sample([[4., 4., 40., 36.]], [0]), det_data_sample()]
    loss = head.loss(x, samples)['loss_imgcls']
    # sigmoid MIL scores near the 0.01 prior: BCE near the mean of -log 0.01
    # (image 0, positive) and -log 0.99 (image 1); a softmax over a single
    # class would score 1 - eps, and image 1 would cost -log(eps) = 11.5
    expected = -(math.log(0.01) + math.log(0.99)) / 2
    assert loss.item() == pytest.approx(expected, abs=0.1)
    loss.backward()
    assert head.f_mil_cls.weight.grad.abs().sum() > 0


# --------------------------------------------------------------------------
# The tiny MI-AOD detector
# --------------------------------------------------------------------------
@pytest.fixture
def model():
    torch.manual_seed(0)
    model = MODELS.build(tiny_miaod_model_cfg(num_classes=3))
    model.init_weights()
    return model


def inputs(batch_size):
    return torch.randn(batch_size, 3, 64, 64)


def labeled_samples():
    return [
        det_data_sample([[4., 4., 40., 36.]], [1]),
        det_data_sample([[10., 8., 30., 60.], [0., 0., 63., 63.]], [0, 2])
    ]


def grad_norm(model, prefix):
    grads = [
        p.grad.abs().sum() for n, p in model.named_parameters()
        if n.startswith(prefix) and p.grad is not None
    ]
    return float(sum(grads)) if grads else 0.


def set_requires_grad(params, flag):
    for _, param in params:
        param.requires_grad_(flag)


def test_labeled_loss_reaches_every_branch(model):
    losses = model.loss(inputs(2), labeled_samples())
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_imgcls'}
    loss, log_vars = model.parse_losses(losses)
    assert all(torch.isfinite(v) for v in log_vars.values()), log_vars
    loss.backward()
    for prefix in ('backbone', 'neck', 'bbox_head.f_1_convs',
                   'bbox_head.f_1_cls', 'bbox_head.f_2_convs',
                   'bbox_head.f_2_cls', 'bbox_head.f_r_', 'bbox_head.f_mil_'):
        assert grad_norm(model, prefix) > 0, prefix


def test_unlabeled_min_step(model):
    # pseudo positives for every class, so that the MIL loss is not zero
    for conv in (model.bbox_head.f_1_cls, model.bbox_head.f_2_cls):
        torch.nn.init.constant_(conv.bias, 2.)
    samples = [det_data_sample(unlabeled=True) for _ in range(2)]
    # the min phase freezes f1/f2
    set_requires_grad(model.adversarial_parameters(), False)
    losses = model.loss(inputs(2), samples)
    assert set(losses) == {'loss_wave_dis', 'loss_imgcls'}
    assert losses['loss_imgcls'] > 0

    # the discrepancy flows through the frozen f1/f2 into neck and backbone,
    # never into f_mil (w is detached)
    losses['loss_wave_dis'].backward(retain_graph=True)
    assert grad_norm(model, 'backbone') > 0
    assert grad_norm(model, 'neck') > 0
    assert grad_norm(model, 'bbox_head.f_mil_') == 0
    losses['loss_imgcls'].backward()
    assert grad_norm(model, 'bbox_head.f_mil_') > 0
    for prefix in ('bbox_head.f_1_', 'bbox_head.f_2_', 'bbox_head.f_r_'):
        assert grad_norm(model, prefix) == 0, prefix


def test_unlabeled_max_step(model):
    model.set_unlabeled_step('max')
    samples = [det_data_sample(unlabeled=True) for _ in range(2)]
    losses = model.loss(inputs(2), samples)
    assert set(losses) == {'loss_wave_dis_minus'}
    losses['loss_wave_dis_minus'].backward()
    for name, param in model.adversarial_parameters():
        if name.endswith('weight'):
            assert param.grad.abs().sum() > 0, name
    assert grad_norm(model, 'bbox_head.f_mil_') == 0
    assert grad_norm(model, 'bbox_head.f_r_') == 0


def test_set_unlabeled_step_validates(model):
    assert model.unlabeled_step == 'min'
    with pytest.raises(ValueError, match='step'):
        model.set_unlabeled_step('maximise')
    assert model.unlabeled_step == 'min'


def test_mixed_batch_dispatches_both(model):
    # eval mode: BN uses running statistics, so an image's features do not
    # depend on the rest of its batch and the parts can be compared
    model.eval()
    labeled = labeled_samples()
    # a labeled image without boxes is still labeled (no sentinel box)
    labeled.append(det_data_sample())
    unlabeled = det_data_sample(unlabeled=True)
    x = inputs(4)
    losses = model.loss(x, [labeled[0], unlabeled, labeled[1], labeled[2]])
    assert set(losses) == {
        'loss_cls', 'loss_bbox', 'loss_imgcls', 'u_loss_wave_dis',
        'u_loss_imgcls'
    }
    expected = model.loss(x[[0, 2, 3]], labeled)
    expected.update({
        f'u_{k}': v
        for k, v in model.loss(x[[1]], [unlabeled]).items()
    })
    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value)


def test_predict_uses_f1_and_fr_only(model):
    model.eval()
    head = model.bbox_head
    calls = count_calls(head)
    with torch.no_grad():
        results = model.predict(inputs(2), labeled_samples(), rescale=False)
    assert calls['f_2_cls'] == calls['f_mil_cls'] == 0
    assert calls['f_1_cls'] == calls['f_r_reg'] == len(LEVEL_SIZES)
    assert len(results) == 2
    for result in results:
        assert isinstance(result, DetDataSample)
        pred = result.pred_instances
        assert pred.bboxes.shape[1] == 4
        assert len(pred.bboxes) == len(pred.scores) == len(pred.labels)
        assert len(pred.scores) <= 100
        assert (pred.scores >= 0.05).all()


def count_calls(head):
    calls = dict.fromkeys(head.FINAL_CONVS.values(), 0)
    calls.update({f'{b}_convs.0': 0 for b in head.FINAL_CONVS})

    def hook(name):

        def count(module, args, output):
            calls[name] += 1

        return count

    for name, module in head.named_modules():
        if name in calls:
            module.register_forward_hook(hook(name))
    return calls


def test_predict_uncertainty(model):
    model.eval()
    x = inputs(2)
    with torch.no_grad():
        # more anchors than k: all (9 * (64 + 16 + 4 + 1 + 1) = 774) count
        cls_scores, _, cls_scores_2, _ = model._forward(x)
        calls = count_calls(model.bbox_head)
        scores = model.predict_uncertainty(x, labeled_samples(), k=10000)
    assert calls['f_r_convs.0'] == calls['f_r_reg'] == 0
    assert calls['f_mil_convs.0'] == calls['f_mil_cls'] == 0
    assert calls['f_1_cls'] == calls['f_2_cls'] == len(LEVEL_SIZES)
    assert scores.shape == (2, ) and (scores >= 0).all()
    p_1, p_2 = (
        torch.cat(levels_to_instances(s, 3), 1).sigmoid()
        for s in (cls_scores, cls_scores_2))
    assert p_1.shape[1] == 774
    torch.testing.assert_close(scores, ((p_1 - p_2)**2).mean((1, 2)))


def test_adversarial_parameters(model):
    names = [name for name, _ in model.adversarial_parameters()]
    expected = [
        name for name, _ in model.named_parameters()
        if name.startswith(('bbox_head.f_1_', 'bbox_head.f_2_'))
    ]
    assert names == expected
    # towers (2 ConvModules each) and final convs, weights and biases
    assert len(names) == 2 * (2 * 2 + 2)
    params = dict(model.named_parameters())
    assert all(p is params[n] for n, p in model.adversarial_parameters())


def test_paper_config_diffs_only_in_miaod_keys():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/miaod_retinanet_r50_fpn.py'))
    cfg = cfg.model
    mmdet_cfg = Config.fromfile(
        osp.join(
            osp.dirname(mmdet.__file__),
            '.mim/configs/_base_/models/retinanet_r50_fpn.py')).model
    assert (cfg.type, cfg.bbox_head.type) == ('MIAOD', 'MIAODHead')
    assert cfg.bbox_head.num_classes == 20
    assert cfg.train_cfg.param_lambda == 0.5
    mmdet_cfg.type = 'MIAOD'
    mmdet_cfg.bbox_head.update(type='MIAODHead', num_classes=20)
    mmdet_cfg.train_cfg.param_lambda = 0.5
    # `mmdet::` inheritance records the scope the base came from
    assert {k: v for k, v in cfg.to_dict().items()
            if k != '_scope_'} == mmdet_cfg.to_dict()
    assert isinstance(MODELS.build(cfg).bbox_head, MIAODHead)
