"""Gradient embeddings (BADGE-like): the closed form against autograd on
tiny layers and on the tiny detectors' real classification layers, the
scorer output's padding invariance, and k-means++ seeding on hand-made
embeddings."""
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses import (CrossEntropyLoss, FocalLoss,
                                 QualityFocalLoss)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import al_plugin  # noqa: F401
from al_plugin.engine.scoring import compute_outputs, scorer_options
from al_plugin.models import build_adapter
from al_plugin.models.gradient_embedding import (box_gradient_embedding,
                                                 input_projection,
                                                 logit_grad, loss_spec)
from al_plugin.models.utils import levels_to_instances
from al_plugin.strategies import GradientEmbeddingStrategy, kmeans_pp_seeds
from .conftest import REPO
from .utils import det_data_sample


def closed_form(logits, inputs, **spec):
    """The module's embedding ``(L, D)`` of boxes ``logits`` ``(n, L)``
    reading ``inputs`` ``(n, D)``."""
    return box_gradient_embedding(logit_grad(logits.detach(), **spec),
                                  inputs.detach()).reshape(
                                      logits.size(1), inputs.size(1))


def onehot_argmax(logits):
    return F.one_hot(logits.detach().argmax(1), logits.size(1)).float()


# ------------------------------------------------------ closed form / autograd
def test_softmax_linear_layer_matches_autograd():
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 4)
    h = torch.randn(3, 5)
    z = layer(h)
    F.cross_entropy(z, z.detach().argmax(1)).backward()  # mean over boxes
    torch.testing.assert_close(closed_form(z, h, loss='softmax'),
                               layer.weight.grad)


@pytest.mark.parametrize('gamma, alpha', [(2.0, 0.25), (1.5, 0.6),
                                          (0.0, None)])
def test_sigmoid_focal_conv_centre_tap_matches_autograd(gamma, alpha):
    """A 3x3 conv with A = 2 anchor types of C = 4 classes: the boxes'
    mean focal loss (mmdet's FocalLoss; BCE for gamma 0, alpha None)
    differentiated w.r.t. the kernel's centre tap, the anchor types' rows
    summed, is the closed form with h the input at the box's cell."""
    torch.manual_seed(1)
    num_types, num_classes, channels = 2, 4, 3
    conv = torch.nn.Conv2d(channels, num_types * num_classes, 3, padding=1)
    x = torch.randn(1, channels, 5, 6)
    out = conv(x)
    boxes = [(0, 0, 0), (2, 3, 1), (4, 5, 0), (1, 2, 1)]  # y, x, type
    z = torch.stack([
        out[0, a * num_classes:(a + 1) * num_classes, y, x_]
        for y, x_, a in boxes
    ])
    h = torch.stack([x[0, :, y, x_] for y, x_, _ in boxes])
    if alpha is None:
        loss = F.binary_cross_entropy_with_logits(
            z, onehot_argmax(z), reduction='sum')
    else:
        loss = FocalLoss(gamma=gamma, alpha=alpha, reduction='sum')(
            z, onehot_argmax(z))
    (loss / len(boxes)).backward()
    centre = conv.weight.grad[:, :, 1, 1].reshape(num_types, num_classes,
                                                  channels).sum(0)
    torch.testing.assert_close(
        closed_form(z, h, loss='sigmoid', gamma=gamma, alpha=alpha), centre)
    # the other taps carry gradient too: the centre tap is a real block
    assert conv.weight.grad[:, :, 0, 0].abs().sum() > 0


def test_loss_spec_of_mmdet_losses():
    assert loss_spec(FocalLoss(gamma=2.0, alpha=0.25), True) == dict(
        loss='sigmoid', gamma=2.0, alpha=0.25)
    assert loss_spec(CrossEntropyLoss(use_sigmoid=True), True) == dict(
        loss='sigmoid', gamma=0.0, alpha=None)
    assert loss_spec(CrossEntropyLoss(), False)['loss'] == 'softmax'
    with pytest.raises(NotImplementedError, match='QualityFocalLoss'):
        loss_spec(QualityFocalLoss(), True)


def test_no_boxes_embed_to_zeros_and_projection_keeps_norms():
    empty = box_gradient_embedding(torch.zeros(0, 4), torch.zeros(0, 6))
    assert empty.shape == (24, ) and not empty.any()
    proj = input_projection(256, 64)
    assert torch.equal(proj, input_projection(256, 64))  # fixed
    m = torch.randn(200, 256)
    ratio = (m @ proj).pow(2).sum() / m.pow(2).sum()
    assert 0.8 < ratio < 1.2


# ------------------------------------------------- the detectors' real layers
def tiny_model(kind):
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/{kind}_tiny.py')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model).eval()
    torch.manual_seed(3)  # spread head weights: distinct probabilities
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight)
    return model


def test_dense_output_matches_autograd_on_retina_cls():
    """RetinaNet (sigmoid focal loss, A = 9): the scorer output of an
    unpadded 64 x 64 image with every anchor kept is the autograd gradient
    of the mean focal loss of its anchors w.r.t. retina_cls's centre tap,
    anchor types summed."""
    model = tiny_model('retinanet')
    torch.manual_seed(4)
    inputs = torch.randn(1, 3, 64, 64)
    samples = [det_data_sample(size=64)]
    out = compute_outputs(build_adapter(model), inputs, samples,
                          ['grad_embedding'],
                          dict(max_boxes=10**6, box_score_thr=0.0,
                               grad_dims=0))['grad_embedding']
    head = model.bbox_head
    with torch.enable_grad():
        scores = head(model.extract_feat(inputs))[0]
        z = torch.cat(levels_to_instances(scores, head.cls_out_channels),
                      dim=1)[0]
        loss = head.loss_cls(z, onehot_argmax(z), reduction_override='sum')
        (loss / len(z)).backward()
    layer = head.retina_cls
    expected = layer.weight.grad[:, :, 1, 1].reshape(
        -1, head.cls_out_channels, layer.in_channels).sum(0)
    assert out.shape == (1, 10 * 64)
    np.testing.assert_allclose(out[0], expected.flatten().numpy(),
                               rtol=1e-4, atol=1e-7)


def test_two_stage_output_matches_autograd_on_fc_cls():
    """Faster R-CNN (softmax over 10 classes + background): the output
    over the top 5 proposals is the autograd gradient of their mean
    cross-entropy w.r.t. fc_cls; projected, it has L * (grad_dims // L)
    columns."""
    model = tiny_model('faster_rcnn')
    adapter = build_adapter(model)
    torch.manual_seed(4)
    inputs = torch.randn(1, 3, 64, 64)
    samples = [det_data_sample(size=64)]
    cfg = dict(max_boxes=5, box_score_thr=0.0)
    out = compute_outputs(adapter, inputs, samples, ['grad_embedding'],
                          dict(cfg, grad_dims=0))['grad_embedding']
    bbox_head = model.roi_head.bbox_head
    feats = model.extract_feat(inputs)
    proposals = adapter.proposals(feats, samples)
    with torch.enable_grad():
        z = model.roi_head.forward(feats, proposals)[0]
        probs = z.softmax(-1)[:, :-1]
        top = torch.sort(probs.max(1).values, descending=True,
                         stable=True)[1][:5]
        F.cross_entropy(z[top], z[top].detach().argmax(1)).backward()
    assert out.shape == (1, 11 * 256)
    np.testing.assert_allclose(out[0],
                               bbox_head.fc_cls.weight.grad.flatten().numpy(),
                               rtol=1e-4, atol=1e-7)
    projected = compute_outputs(adapter, inputs, samples, ['grad_embedding'],
                                dict(cfg, grad_dims=100))['grad_embedding']
    assert projected.shape == (1, 11 * 9)


@pytest.mark.parametrize('kind', ['retinanet', 'faster_rcnn'])
def test_padding_never_enters_the_embedding(kind):
    """An image batched with a larger one (so padded) embeds as alone."""
    model = tiny_model(kind)
    adapter = build_adapter(model)
    torch.manual_seed(5)
    inputs = torch.zeros(2, 3, 96, 96)
    samples = [det_data_sample(size=96) for _ in range(2)]
    inputs[0] = torch.rand(3, 96, 96)
    inputs[1, :, :60, :90] = torch.rand(3, 60, 90)
    samples[1].set_metainfo(dict(img_shape=(60, 90), ori_shape=(60, 90)))
    cfg = dict(max_boxes=20, box_score_thr=0.0)
    both = compute_outputs(adapter, inputs, samples, ['grad_embedding'],
                           cfg)['grad_embedding']
    alone = compute_outputs(adapter, inputs[1:, :, :64, :96].clone(),
                            samples[1:], ['grad_embedding'],
                            cfg)['grad_embedding']
    assert np.abs(both[1]).sum() > 0
    np.testing.assert_allclose(both[1], alone[0], rtol=1e-4, atol=1e-6)


def test_scorer_options_include_grad_dims():
    assert scorer_options()['grad_dims'] == 1024
    with pytest.raises(ValueError, match='grad_dims'):
        compute_outputs(build_adapter(tiny_model('retinanet')),
                        torch.zeros(1, 3, 64, 64), [det_data_sample()],
                        ['grad_embedding'], dict(grad_dims=-1))


# ------------------------------------------------------- k-means++ seeding
def test_first_pick_is_the_largest_gradient_then_the_other_cluster():
    # two clusters of identical embeddings: after a pick in one, every
    # other row of it is at distance 0, so the next pick is in the other
    emb = np.array([[0.0, 1.0]] * 4 + [[3.0, 0.0]] * 3 + [[0.0, 1.1]],
                   dtype=np.float32)
    for seed in range(5):
        positions, scores = GradientEmbeddingStrategy(seed=seed).select(
            dict(grad_embedding=emb), 2, 8)
        assert positions[0] == 4  # norm 3, the first of equal maxima
        assert positions[1] in (0, 1, 2, 3, 7)
    np.testing.assert_allclose(scores, np.linalg.norm(emb, axis=1),
                               rtol=1e-6)


def test_seeding_draws_by_squared_distance():
    # the first pick is row 0 (the largest norm, 10); then row 1 is at
    # squared distance 109 and rows 2..5 at 1, 2, 2 and 2.25: row 1 comes
    # second with probability 109 / 116.25
    emb = np.array([[10, 0], [0, 3], [9, 0], [9, 1], [9, -1], [8.5, 0]],
                   dtype=np.float32)
    seconds = np.array([
        GradientEmbeddingStrategy(seed=s).select(
            dict(grad_embedding=emb), 2, 6)[0] for s in range(200)
    ])
    assert np.all(seconds[:, 0] == 0)
    assert abs(np.mean(seconds[:, 1] == 1) - 109 / 116.25) < 0.05
    assert set(seconds[:, 1]) > {1}  # the near rows are drawn too


def test_seeding_is_deterministic_distinct_and_chunk_free():
    emb = np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32)
    picks = GradientEmbeddingStrategy(seed=7).select(
        dict(grad_embedding=emb), 40, 300)[0]
    again = GradientEmbeddingStrategy(seed=7, chunk_size=7).select(
        dict(grad_embedding=emb), 40, 300)[0]
    assert picks.tolist() == again.tolist()
    assert len(set(picks.tolist())) == 40
    # more than all the rest: every row is picked once, none twice
    everything = kmeans_pp_seeds(emb[:5].repeat(2, axis=0), 10,
                                 np.random.default_rng(0), 3)
    assert sorted(everything.tolist()) == list(range(10))


def test_large_pool_is_chunked():
    rng = np.random.default_rng(0)
    num_images = 20000
    emb = rng.normal(size=(num_images, 64)).astype(np.float32)
    strategy = GradientEmbeddingStrategy(chunk_size=1024)
    tracemalloc.start()
    try:
        positions, _ = strategy.select(dict(grad_embedding=emb), 20,
                                       num_images)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(set(positions.tolist())) == 20
    # a float64 copy of the embeddings would be 10 MiB, an N x N matrix
    # 1.6 GB; the blocks are 1024 x 64
    assert peak < 4 * 2**20, f'peak {peak / 2**20:.1f} MiB'
