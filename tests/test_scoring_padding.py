"""Padding never enters a per-image output: a pool of mixed sizes and
orientations, scored in batches of 8 in another order, gives every output
of every image as scored alone (batch 1), for the dense adapter (MI-AOD and
plain RetinaNet) and the two-stage one."""
import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import al_plugin  # noqa: F401
from al_plugin.engine.export import subset_loader
from al_plugin.engine.scoring import (FAMILY_OUTPUTS, OUTPUTS, PoolBatch,
                                      compute_outputs, padded_shape,
                                      score_loader)
from al_plugin.models import build_adapter
from .conftest import REPO, run_tool
from .utils import det_data_sample, tiny_miaod_model_cfg

NUM_IMAGES = 12
SCORER_CFG = dict(k=500, max_boxes=20, box_score_thr=0.0)


def _spread_head(model):
    """Random head weights of variance 2 / fan-in instead of mmdet's
    N(0, 0.01): candidates then have well separated scores (an untrained
    head scores every anchor about 0.01, and near ties would make the
    comparison one of rounding)."""
    torch.manual_seed(3)
    heads = [
        getattr(model, name)
        for name in ('bbox_head', 'rpn_head', 'roi_head')
        if hasattr(model, name)
    ]
    for head in heads:
        for module in head.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(module.weight)
    return model


def _model(kind):
    """A tiny detector keeping every box (score_thr 0), with test_cfg
    sizes cut down for speed: 200 anchors per level before NMS, 30
    detections (100 proposals for the two-stage one)."""
    register_all_modules()
    torch.manual_seed(0)
    if kind == 'miaod':
        cfg = tiny_miaod_model_cfg(num_classes=10)
    else:
        cfg = Config.fromfile(
            f'{REPO}/configs/_base_/models/{kind}_tiny.py').model
    if kind == 'faster_rcnn':
        cfg.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
        cfg.test_cfg.rcnn.update(score_thr=0.0, max_per_img=30)
    else:
        cfg.test_cfg.update(score_thr=0.0, nms_pre=200, max_per_img=30)
    return _spread_head(MODELS.build(cfg).eval())


@pytest.fixture(scope='module')
def mixed_pool(tmp_path_factory):
    """12 digits canvases of 48-160 px sides (landscape and portrait),
    through the digits test pipeline (resized to fit 192 x 128)."""
    out = tmp_path_factory.mktemp('mixed') / 'digits_det'
    run_tool([
        'tools/make_digits_det.py', '--out', str(out), '--num-trainval',
        str(NUM_IMAGES), '--num-test', '1', '--min-size', '48',
        '--max-size', '160', '--seed', '1'
    ])
    register_all_modules()
    data = Config.fromfile(f'{REPO}/configs/_base_/datasets/digits_voc.py')
    images = out / 'VOCdevkit'  # both years' JPEGImages
    dataset = DATASETS.build(
        dict(
            type='ImageFolderDataset',
            data_root=str(images),
            metainfo=dict(classes=tuple(str(d) for d in range(10))),
            pipeline=data.test_pipeline))
    assert len(dataset) == NUM_IMAGES + 1  # and the test image
    return dataset


def _scored(model, dataset, order, batch_size, names):
    """index -> output rows, the images scored in ``order``."""
    loader = subset_loader(
        dict(batch_size=batch_size, num_workers=0), dataset, order, 'mark')
    indices, outputs, broken = score_loader(model, loader, names,
                                            SCORER_CFG)
    assert not broken and sorted(indices.tolist()) == sorted(order)
    return {
        name: dict(zip(indices.tolist(), rows))
        for name, rows in outputs.items()
    }


def _padded_shapes(model, dataset, order, batch_size):
    """Per batch of the loader: the images' own padded shapes, and the
    batch's input shape."""
    loader = subset_loader(
        dict(batch_size=batch_size, num_workers=0), dataset, order, 'mark')
    divisor = build_adapter(model).pad_size_divisor
    shapes = []
    for data in loader:
        data.pop('al_broken')
        data = model.data_preprocessor(data, False)
        own = {
            padded_shape(s.img_shape, divisor)
            for s in data['data_samples']
        }
        shapes.append((own, tuple(data['inputs'].shape[-2:])))
    return shapes


@pytest.mark.parametrize('kind', ['miaod', 'retinanet', 'faster_rcnn'])
def test_batch_of_8_in_another_order_equals_batch_1(mixed_pool, kind):
    model = _model(kind)
    names = [n for n in OUTPUTS if (kind == 'miaod' or
                                    n != 'instance_uncertainty')
             and n not in FAMILY_OUTPUTS]  # tightness: test_tightness.py
    num = len(mixed_pool)
    order = list(range(num))
    shuffled = np.random.default_rng(0).permutation(num).tolist()
    # the pool really mixes orientations, and batches of 8 pad images
    batches = _padded_shapes(model, mixed_pool, shuffled, 8)
    all_shapes = set().union(*(own for own, _ in batches))
    assert any(h > w for h, w in all_shapes)
    assert any(h < w for h, w in all_shapes)
    assert all(len(own) > 1 for own, _ in batches)

    alone = _scored(model, mixed_pool, order, 1, names)
    batched = _scored(model, mixed_pool, shuffled, 8, names)
    compared = 0
    for index in order:
        for name in ('instance_uncertainty', 'features'):
            if name in names:
                np.testing.assert_allclose(
                    alone[name][index], batched[name][index], rtol=1e-4,
                    atol=1e-7, err_msg=f'{name} of image {index}')
                compared += np.size(alone[name][index])
        # candidates: their probabilities, ranked by the top one
        a, b = alone['class_probs'][index], batched['class_probs'][index]
        _assert_same_ranked_rows(a, b, a.max(1), b.max(1), index, 1e-7)
        compared += a.size
        # detections (boxes, score, label), ranked by score
        for prefix in ('det', 'flip'):
            a, b = ([
                np.column_stack([
                    scored[f'{prefix}_{key}'][index]
                    for key in ('boxes', 'scores', 'labels')
                ]) for scored in (alone, batched)
            ])
            _assert_same_ranked_rows(a, b, a[:, 4], b[:, 4], index, 1e-4)
            compared += a.size
    # something to compare: boxes, probabilities and features
    assert all(len(alone['det_boxes'][i]) for i in order)
    assert all(len(alone['class_probs'][i]) == 20 for i in order)
    assert compared > 10000


def _assert_same_ranked_rows(a, b, key_a, key_b, index, atol):
    """``a`` and ``b`` ``(n, d)`` hold the same rows (rtol 1e-4; boxes
    need ``atol`` 1e-4 px, the float32 rounding of a coordinate near 0),
    in the same order up to rows whose ranking keys (scores) are equal to
    float rounding (1e-5): the order of those is arbitrary."""
    assert a.shape == b.shape, index
    free = np.ones(len(b), dtype=bool)
    for i, row in enumerate(a):
        tied = np.flatnonzero(free & (np.abs(key_b - key_a[i]) <= 1e-5))
        assert len(tied), f'image {index}: row {i} ({row}) has no match'
        j = tied[np.argmin(np.abs(b[tied] - row).max(1))]
        np.testing.assert_allclose(
            b[j], row, rtol=1e-4, atol=atol,
            err_msg=f'image {index}, row {i}')
        free[j] = False


def test_one_backbone_pass_per_padded_shape():
    """Two shapes in a batch: one pass a shape (two with the flipped
    copies), each on the images cut to their own padded shape."""
    model = _model('miaod')
    torch.manual_seed(1)
    inputs = torch.zeros(3, 3, 96, 96)
    samples = [det_data_sample(size=96) for _ in range(3)]
    for i, (h, w) in enumerate([(96, 64), (60, 90), (70, 40)]):
        inputs[i, :, :h, :w] = torch.rand(3, h, w)
        samples[i].set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w)))
    seen = []
    model.backbone.register_forward_hook(
        lambda module, args, out: seen.append(tuple(args[0].shape)))
    names = [n for n in OUTPUTS if not n.startswith('flip_')
             and n not in FAMILY_OUTPUTS]  # one-stage: no tightness
    adapter = build_adapter(model)
    out = compute_outputs(adapter, inputs, samples, names, SCORER_CFG)
    assert sorted(seen) == [(1, 3, 64, 96), (2, 3, 96, 64)]
    groups = PoolBatch(adapter, inputs, samples).groups
    assert [g.positions for g in groups] == [[0, 2], [1]]
    assert [g.samples[0].batch_input_shape
            for g in groups] == [(96, 64), (64, 96)]
    # image 1 alone, at its own padded shape
    alone = compute_outputs(adapter, inputs[1:2, :, :64, :96].clone(),
                            samples[1:2], names, SCORER_CFG)
    for name in names:  # a batch of one at one shape: the same numbers
        np.testing.assert_allclose(
            np.asarray(out[name][1], float), np.asarray(alone[name][0], float),
            rtol=1e-4, atol=1e-6, err_msg=name)
    seen.clear()
    compute_outputs(adapter, inputs, samples, ['flip_scores', 'det_scores'],
                    {})
    assert len(seen) == 4


@pytest.mark.parametrize('kind', ['retinanet', 'faster_rcnn'])
def test_valid_cells_follow_mmdets_valid_flags(kind):
    """The anchors an output keeps are those mmdet's prior generator
    flags as inside the image."""
    model = _model(kind)
    adapter = build_adapter(model)
    head = getattr(model, 'bbox_head', None) or model.rpn_head
    feats = adapter.extract_feat(torch.zeros(1, 3, 160, 192))
    sizes = [f.shape[-2:] for f in feats]
    for img_shape in [(160, 192), (150, 100), (33, 190), (1, 1)]:
        flags = head.prior_generator.valid_flags(sizes, img_shape, 'cpu')
        cells = adapter.valid_cells(feats, img_shape)
        for flag, (h, w), size, anchors in zip(
                flags, cells, sizes, head.prior_generator.num_base_priors):
            grid = flag.view(size[0], size[1], anchors)
            expected = torch.zeros_like(grid)
            expected[:h, :w] = True
            assert torch.equal(grid, expected), (img_shape, size)
    if kind == 'retinanet':
        sample = det_data_sample(size=160)
        sample.set_metainfo(dict(img_shape=(150, 100)))
        probs = adapter.box_class_probs(feats, [sample])[0]
        flags = head.prior_generator.valid_flags(sizes, (150, 100), 'cpu')
        assert len(probs) == int(torch.cat(flags).sum())
        everything = torch.cat(
            [s.permute(0, 2, 3, 1).reshape(-1, 10)
             for s in head(feats)[0]]).sigmoid()
        torch.testing.assert_close(probs, everything[torch.cat(flags)])
