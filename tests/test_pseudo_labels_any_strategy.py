"""Semi-supervised cycles with any strategy (issue 17 item 4): the
selection hook's ``pseudo_labels`` option, the training sets of its modes,
per-image loss weights, the SL/AL ratio, and two tiny experiments."""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

from al_plugin.datasets import ActiveSubset, PseudoLabels
from al_plugin.engine import ActiveSelectionHook, check_selection_hooks
from al_plugin.engine.loops.cycle_record import summary_lines
from al_plugin.engine.pseudo_labeling import (PseudoLabeling,
                                              cycle_training_set)
from al_plugin.models import check_image_weights
from .conftest import REPO
from .test_splitter import build_pool, make, read_lines
from .test_splitter import voc_root  # noqa: F401 (fixture)
from .test_strategy_configs import run_tiny
from .utils import det_data_sample, tiny_miaod_model_cfg

#: feature map sizes of a 64 x 64 input at strides 8 .. 128
LEVEL_SIZES = (8, 4, 2, 1, 1)
CONFIG = 'configs/entropy_pseudo_digits.py'


# ------------------------------------------------------------ the option
def hook(**pseudo_labels):
    return ActiveSelectionHook(
        strategy=dict(type='RandomStrategy'), pseudo_labels=pseudo_labels)


def test_option_is_checked_at_config_load_naming_the_key():
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    check_selection_hooks(cfg)
    cfg.custom_hooks[0].pseudo_labels['score_thres'] = 0.5
    with pytest.raises(TypeError) as err:
        check_selection_hooks(cfg)
    assert str(err.value).startswith(
        "custom_hooks[0]: ActiveSelectionHook.pseudo_labels got unknown "
        "option(s) 'score_thres' (did you mean 'score_thr'?)")
    for bad, match in ((dict(mode='v2'), "mode must be one of"),
                       (dict(mode='v1'), 'set num_per_round'),
                       (dict(num_per_round=4), "not by mode='all'"),
                       (dict(weight=-1.0), 'weight must be'),
                       (dict(score_thr=1.5), 'score_thr must be')):
        with pytest.raises(ValueError, match=match):
            hook(**dict(dict(score_thr=0.9), **bad))
    with pytest.raises(ValueError, match='needs score_thr'):
        hook(weight=0.5)


def test_any_strategy_scores_the_detections_in_its_one_pass():
    on = hook(score_thr=0.9, weight=0.5, mode='v1+', num_per_round=3)
    assert on.pool_outputs() == ('det_boxes', 'det_scores', 'det_labels')
    assert (on.pseudo_labeling.weight, on.pseudo_labeling.mode,
            on.pseudo_labeling.num_per_round) == (0.5, 'v1+', 3)
    entropy = ActiveSelectionHook(
        strategy=dict(type='EntropyStrategy'),
        pseudo_labels=dict(score_thr=0.9))
    assert entropy.pool_outputs() == ('class_probs', 'det_boxes',
                                      'det_scores', 'det_labels')
    off = ActiveSelectionHook(strategy=dict(type='RandomStrategy'))
    assert off.pool_outputs() == () and off.pseudo_labeling is None


def test_mining_uses_the_same_mechanism():
    mining = dict(type='SelfSupervisedMiningStrategy', certain_thr=0.7,
                  use_pseudo_labels=True)
    alone = ActiveSelectionHook(strategy=mining)
    assert (alone.pseudo_labeling.score_thr, alone.pseudo_labeling.weight,
            alone.pseudo_labeling.mode) == (0.7, 1.0, 'all')
    both = ActiveSelectionHook(strategy=mining,
                               pseudo_labels=dict(weight=0.5, mode='v1+'))
    assert (both.pseudo_labeling.score_thr,
            both.pseudo_labeling.weight) == (0.7, 0.5)
    with pytest.raises(ValueError, match='leave score_thr out'):
        ActiveSelectionHook(strategy=mining,
                            pseudo_labels=dict(score_thr=0.9))
    # the strategy's pseudo labels are confident_detections of its outputs
    outputs = dict(
        det_boxes=[np.array([[0, 0, 4, 4], [1, 1, 3, 3.]]), np.zeros((0, 4))],
        det_scores=[np.array([0.95, 0.5]), np.zeros(0)],
        det_labels=[np.array([3, 1]), np.zeros(0, np.int64)])
    labels = alone.strategy.pseudo_labels(outputs, [0, 1])
    assert list(labels) == [0] and labels[0][1].tolist() == [3]
    # a threshold from the hook's option wins over none
    random = hook(score_thr=0.4).strategy
    assert random.pseudo_labels(outputs, [0, 1]) == {}
    assert random.pseudo_labels(outputs, [0, 1], 0.4)[0][1].tolist() == [3, 1]


# ---------------------------------------------------- training sets
BOXES = ([[1, 2, 5, 6]], [1])
NEW_BOXES = ([[0, 0, 3, 3], [2, 2, 8, 8]], [0, 0])


@pytest.fixture
def two_commits(tmp_path, voc_root):  # noqa: F811
    """A 15-image pool, X_L_0 of 4; cycle 1 selects 3 and pseudo-labels
    a, b, c; cycle 2 selects a (now labeled by a human) and pseudo-labels
    b again (new boxes) and d."""
    splitter = make(build_pool(voc_root), tmp_path)
    free = [int(i) for i in splitter.pool_indices()]
    a, b, c, d = free[3:7]
    splitter.commit(1, free[:3], pseudo_labels={a: BOXES, b: BOXES,
                                                c: BOXES})
    splitter.commit(2, [a], pseudo_labels={b: NEW_BOXES, d: BOXES})
    return splitter, (a, b, c, d)


def test_pseudo_labels_never_reach_the_human_label_files(
        two_commits, tmp_path):
    splitter, (a, b, c, d) = two_commits
    for cycle, pseudo in ((1, {a, b, c}), (2, {b, d})):
        assert set(splitter.pseudo_labels(cycle)) == pseudo
        X_L = np.load(tmp_path / f'X_L_{cycle}.npy')
        assert not pseudo & set(X_L.tolist())
        ids = {splitter.img_id(i) for i in pseudo}
        for tag in ('07', '12'):
            path = tmp_path / f'cycle{cycle}' / f'trainval_X_L_{tag}.txt'
            if path.exists():
                assert not ids & set(read_lines(path))
    assert a in np.load(tmp_path / 'X_L_2.npy')  # selected at cycle 2


def test_all_mode_recomputes_the_pseudo_labels_every_cycle(two_commits):
    splitter, (a, b, c, d) = two_commits
    settings = PseudoLabeling(score_thr=0.9, weight=0.5)
    for mode in ('all', 'v1', 'v1+'):  # cycle 0: X_L_0 in every mode
        zero = PseudoLabeling(0.9, mode=mode, num_per_round=2
                              if mode != 'all' else None)
        start = zero.training_set(splitter, 0)
        assert np.array_equal(start.labeled, splitter.labeled_indices(0))
        assert len(start.pseudo_labels) == 0
    one, two = (settings.training_set(splitter, c) for c in (1, 2))
    assert sorted(one.pseudo_labels) == [a, b, c] and one.weight == 0.5
    # cycle 2: the labels of cycle 1's model are dropped, b's renewed
    assert sorted(two.pseudo_labels) == [b, d]
    np.testing.assert_array_equal(two.pseudo_labels[b][0], NEW_BOXES[0])
    assert np.array_equal(two.labeled, splitter.labeled_indices(2))
    assert sorted(two.indices.tolist()) == sorted(
        splitter.labeled_indices(2).tolist() + [b, d])
    # without settings (a loop without a selection hook): the same
    plain = cycle_training_set(splitter, 2)
    assert sorted(plain.pseudo_labels) == [b, d] and plain.weight == 1.0


def test_v1_plus_keeps_earlier_pseudo_labeled_images(two_commits):
    splitter, (a, b, c, d) = two_commits
    kept = PseudoLabeling(0.9, mode='v1+').training_set(splitter, 2)
    # c stays with cycle 1's boxes, b has cycle 2's, a is labeled now
    assert sorted(kept.pseudo_labels) == [b, c, d]
    np.testing.assert_array_equal(kept.pseudo_labels[c][0], BOXES[0])
    np.testing.assert_array_equal(kept.pseudo_labels[b][0], NEW_BOXES[0])
    assert np.array_equal(kept.labeled, splitter.labeled_indices(2))


def test_v1_rounds_mix_k_pseudo_and_k_labeled_images(two_commits):
    splitter, (a, b, c, d) = two_commits
    X_L = set(splitter.labeled_indices(2).tolist())
    v1 = PseudoLabeling(0.9, mode='v1', num_per_round=1)
    round_ = v1.training_set(splitter, 2)
    assert len(round_.labeled) == 1 and set(round_.labeled) <= X_L
    assert len(round_.pseudo_labels) == 1
    assert set(round_.pseudo_labels) <= {b, d}
    again = v1.training_set(splitter, 2)  # deterministic by seed
    assert np.array_equal(again.labeled, round_.labeled)
    assert list(again.pseudo_labels) == list(round_.pseudo_labels)
    seed, draws = splitter.seed, set()
    for splitter.seed in range(8):  # ... and drawn from it
        draws.add(tuple(v1.training_set(splitter, 2).labeled))
    assert len(draws) > 1
    splitter.seed = seed
    # v1+: K of cycle 2's pseudo labels + K of X_L and the kept c
    plus = PseudoLabeling(0.9, mode='v1+', num_per_round=2)
    mixed = plus.training_set(splitter, 2)
    new = set(mixed.pseudo_labels) & {b, d}
    assert new == {b, d}  # only 2 to draw from
    old = set(mixed.labeled.tolist()) | (set(mixed.pseudo_labels) - {b, d})
    assert len(old) == 2 and old <= X_L | {c}
    assert np.array_equal(mixed.labeled,
                          plus.training_set(splitter, 2).labeled)
    for splitter.seed in range(8):  # c comes back with cycle 1's boxes
        kept = plus.training_set(splitter, 2).pseudo_labels
        if c in kept:
            np.testing.assert_array_equal(kept[c][0], BOXES[0])
            break
    else:
        raise AssertionError('no draw kept c')
    assert round_.describe(2, len(X_L), 8) == (
        f'cycle 2: 1 of {len(X_L)} labeled + 1 pseudo-labeled, 8 in the pool')


def test_pseudo_labeled_samples_carry_their_loss_weight(
        voc_root):  # noqa: F811
    pipeline = [LoadImageFromFile(), LoadAnnotations(with_bbox=True),
                PackDetInputs()]
    subset = ActiveSubset(
        build_pool(voc_root, pipeline), [2, 12], unlabeled=False,
        pseudo_labels=PseudoLabels({12: BOXES}), pseudo_weight=0.25)
    real, pseudo = (subset[i]['data_samples'] for i in (0, 1))
    assert real.al_loss_weight == 1.0 and pseudo.al_loss_weight == 0.25


# ------------------------------------------------------ loss weights
def samples(weight=None):
    """A labeled image and a pseudo-labeled one (``al_loss_weight``
    ``weight``; None: no key, i.e. labeled)."""
    meta = {} if weight is None else dict(al_loss_weight=weight)
    return [det_data_sample([[4., 4., 40., 36.]], [1]),
            det_data_sample([[10., 8., 30., 60.], [0., 0., 60., 50.]],
                            [0, 2], **meta)]


def summed(losses):
    """Loss name -> float (per-level lists summed; accuracies left out)."""
    return {k: float(v.detach())
            for k, v in total(losses, each=True).items()}


def total(losses, each=False):
    """The sum of the losses (tensors), or per name with ``each``."""
    per_name = {k: sum(v) if isinstance(v, list) else v
                for k, v in losses.items() if 'acc' not in k}
    return per_name if each else sum(per_name.values())


def dense_head(kind):
    cfg = tiny_miaod_model_cfg(3)
    cfg.bbox_head.update(type=kind, in_channels=8, feat_channels=8,
                         stacked_convs=1, train_cfg=cfg.train_cfg,
                         test_cfg=cfg.test_cfg)
    torch.manual_seed(0)
    head = MODELS.build(cfg.bbox_head)
    head.init_weights()
    return head


@pytest.mark.parametrize('kind', ['ImageWeightedRetinaHead', 'MIAODHead'])
def test_dense_head_weight_zero_is_no_image_and_one_a_labeled_one(kind):
    head = dense_head(kind)
    torch.manual_seed(1)
    x = tuple(torch.randn(2, 8, s, s, requires_grad=True)
              for s in LEVEL_SIZES)
    zero = head.loss(x, samples(0.0))
    alone = summed(head.loss(tuple(f[:1].detach() for f in x),
                             samples()[:1]))
    assert summed(zero) == pytest.approx(alone, rel=1e-5)
    total(zero).backward()
    for feat in x:  # no gradient reaches the pseudo image
        assert torch.count_nonzero(feat.grad[1]) == 0
    assert any(torch.count_nonzero(feat.grad[0]) for feat in x)

    stock = summed(head.loss(x, samples()))
    assert summed(head.loss(x, samples(1.0))) == stock
    half, quarter = (summed(head.loss(x, samples(w))) for w in (0.5, 0.25))
    for key, value in stock.items():  # linear in the weight up to 1
        assert value == pytest.approx(
            half[key] + 2 * (half[key] - quarter[key]), rel=1e-5), key
    for feat in x:
        feat.grad = None
    total(head.loss(x, samples(0.5))).backward()  # now it counts
    assert all(torch.count_nonzero(feat.grad[1]) for feat in x[:3])


def faster_rcnn(weighted=True):
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/faster_rcnn_tiny.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.roi_head.bbox_head.num_classes = 3
    if weighted:
        cfg.model.rpn_head.type = 'ImageWeightedRPNHead'
        cfg.model.roi_head.type = 'ImageWeightedRoIHead'
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()  # BN: each image on its own


def test_faster_rcnn_weighs_rpn_and_roi_losses_per_image():
    model = faster_rcnn()
    torch.manual_seed(2)
    inputs = torch.randn(2, 3, 64, 64)

    def losses(weight, grad=False):
        torch.manual_seed(3)  # the same RPN / RoI samples every time
        batch = inputs.clone().requires_grad_(grad)
        out = model.loss(batch, samples(weight))
        return out, batch

    zero, batch = losses(0.0, grad=True)
    total(zero).backward()
    assert torch.count_nonzero(batch.grad[1]) == 0
    assert torch.count_nonzero(batch.grad[0]) > 0
    stock = summed(losses(None)[0])
    assert set(stock) == {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls',
                          'loss_bbox'}
    assert summed(losses(1.0)[0]) == stock
    half, quarter = (summed(losses(w)[0]) for w in (0.5, 0.25))
    for key, value in stock.items():
        assert value == pytest.approx(
            half[key] + 2 * (half[key] - quarter[key]), rel=1e-4), key


def test_heads_that_ignore_weights_are_named():
    with pytest.raises(TypeError) as err:
        check_image_weights(faster_rcnn(weighted=False), 'weight=0.5')
    message = str(err.value)
    assert "rpn_head (RPNHead: set model.rpn_head.type=" \
        "'ImageWeightedRPNHead')" in message
    assert "roi_head (StandardRoIHead: set model.roi_head.type=" \
        "'ImageWeightedRoIHead')" in message
    check_image_weights(faster_rcnn(), 'weight=0.5')
    with pytest.raises(TypeError, match='has no such head'):
        check_image_weights(torch.nn.Linear(2, 2), 'weight=0.5')


def test_sl_al_line():
    record = dict(cycle=1, num_labeled=12, metrics={'mAP': 0.5},
                  num_pseudo_labeled=20, num_pseudo_boxes=150,
                  num_human_boxes=180, sl_al_ratio=150 / 180)
    assert summary_lines(record) == [
        'cycle 1 done: 12 labeled, mAP: 0.5000',
        'cycle 1: SL/AL ratio 0.8333: 150 model-made boxes on 20 '
        'pseudo-labeled images, 180 human-made boxes']
    off = dict(record, num_pseudo_labeled=0, num_pseudo_boxes=0,
               sl_al_ratio=0.0)
    assert len(summary_lines(off)) == 1 and len(summary_lines(off, True)) == 2


# ---------------------------------------------- two tiny experiments
#: an untrained model: keep every detection as a pseudo label
EVERY_BOX = ['model.test_cfg.score_thr=0.0',
             'custom_hooks.0.pseudo_labels.score_thr=0.0']


def annotations_digest(data_root):
    sha = hashlib.sha1()
    for dirpath, _, names in sorted(os.walk(data_root)):
        for name in sorted(n for n in names if n.endswith('.xml')):
            with open(osp.join(dirpath, name), 'rb') as f:
                sha.update(f.read())
    return sha.hexdigest()


def test_pseudo_labels_train_the_next_cycle_and_nothing_else(
        tmp_path, digits_root):
    before = annotations_digest(digits_root)
    proc = run_tiny(CONFIG, tmp_path, digits_root, *EVERY_BOX)
    log = proc.stdout + proc.stderr
    pseudo = json.loads((tmp_path / 'pseudo_labels_1.json').read_text())
    indices = {r['index'] for r in pseudo['images']}
    X_L_1 = np.load(tmp_path / 'X_L_1.npy')
    selection = json.loads((tmp_path / 'selection_1.json').read_text())
    # every image left in the pool (32 - 12) is pseudo-labeled ...
    assert len(indices) == 20 and pseudo['num_boxes'] > 20
    # ... and none of them is in X_L, its id lists, the selection
    assert not indices & set(X_L_1.tolist())
    assert not indices & set(selection['indices'])
    ids = {r['img_id'] for r in pseudo['images']}
    for path in (tmp_path / 'cycle1').glob('trainval_X_L_*.txt'):
        assert not ids & set(read_lines(path))
    # the human labels on disk are untouched
    assert annotations_digest(digits_root) == before
    # cycle 1 trains on 12 + 20 images: 8 iterations of 4 an epoch
    assert 'cycle 1: 12 labeled + 20 pseudo-labeled, 20 in the pool' in log
    assert 'Epoch(train) [3][8/8]' in log
    results = json.loads((tmp_path / 'results.json').read_text())
    assert [r['num_pseudo_labeled'] for r in results] == [0, 20]
    assert [r['num_pseudo_boxes'] for r in results] == [0,
                                                        pseudo['num_boxes']]
    assert results[1]['num_human_boxes'] == results[1]['num_labeled_boxes']
    assert results[1]['sl_al_ratio'] == pytest.approx(
        pseudo['num_boxes'] / results[1]['num_human_boxes'])
    assert results[0]['sl_al_ratio'] == 0.0
    assert 'cycle 0: SL/AL ratio 0.0000: 0 model-made boxes' in log
    assert (f'cycle 1: SL/AL ratio {results[1]["sl_al_ratio"]:.4f}: '
            f'{pseudo["num_boxes"]} model-made boxes on 20 pseudo-labeled '
            f'images, {results[1]["num_human_boxes"]} human-made boxes'
            in log)


def test_without_the_option_the_cycle_trains_on_x_l_only(
        tmp_path, digits_root):
    proc = run_tiny(CONFIG, tmp_path, digits_root, *EVERY_BOX[:1],
                    'custom_hooks.0.pseudo_labels=None')
    log = proc.stdout + proc.stderr
    assert not (tmp_path / 'pseudo_labels_1.json').exists()
    assert 'cycle 1: 12 labeled, 20 in the pool' in log
    assert 'Epoch(train) [3][3/3]' in log and 'SL/AL' not in log
    results = json.loads((tmp_path / 'results.json').read_text())
    for r in results:
        assert (r['num_pseudo_labeled'], r['num_pseudo_boxes'],
                r['sl_al_ratio']) == (0, 0, 0.0)
        assert r['num_human_boxes'] == r['num_labeled_boxes']
