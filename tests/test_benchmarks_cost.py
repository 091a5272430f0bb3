"""benchmarks/cost.py's real-size training measurement: the configs it
builds, how it interleaves and times iterations, how it weighs phases."""
import pytest

from benchmarks.cost import (REFERENCE_EPOCHS, iteration_times, r50_config,
                             weighted_ratios)


def test_weighted_ratios_use_the_reference_mix():
    per_iter = dict(label=2., min=4., max=3., retinanet=0.5)
    ratio, phases = weighted_ratios(per_iter)
    assert REFERENCE_EPOCHS == dict(label=9, min=2, max=2)
    assert ratio == pytest.approx((9 * 2 + 2 * 4 + 2 * 3) / 13 / 0.5)
    assert phases == dict(label=4., min=8., max=6.)


def test_iteration_times_interleave_rounds_and_drop_the_warmup():
    calls = []

    def side(name, work):

        def step(item):
            calls.append((name, item))
            sum(i * i for i in range(work))

        return (lambda: calls.append((name, 'enter')), step, [0, 1, 2])

    samples = iteration_times(
        dict(busy=side('busy', 200000), idle=side('idle', 0)),
        rounds=2, warmup=1)
    # round by round, each side entered before its step, items in order
    assert calls == [(n, x) for i in range(3)
                     for n in ('busy', 'idle') for x in ('enter', i)]
    for kind in ('wall', 'cpu'):
        assert [len(v) for v in samples[kind].values()] == [2, 2]
    assert min(samples['cpu']['busy']) > max(samples['cpu']['idle'])


@pytest.mark.parametrize('config, model, detector, head', [
    ('configs/miaod_digits.py',
     'configs/_base_/models/miaod_retinanet_r50_fpn.py', 'MIAOD',
     'MIAODHead'),
    ('configs/retinanet_digits.py',
     'mmdet::_base_/models/retinanet_r50_fpn.py', 'RetinaNet', 'RetinaHead'),
])
def test_r50_config_is_the_paper_network_at_512(tmp_path, config, model,
                                                detector, head):
    cfg = r50_config(config, model, str(tmp_path), str(tmp_path / 'work'))
    assert cfg.model.type == detector
    assert cfg.model.backbone.depth == 50
    assert cfg.model.backbone.init_cfg is None  # nothing downloaded
    assert cfg.model.neck.out_channels == 256
    bbox_head = cfg.model.bbox_head
    assert (bbox_head.type, bbox_head.num_classes, bbox_head.feat_channels,
            bbox_head.stacked_convs) == (head, 20, 256, 4)
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert 'clip_grad' not in cfg.optim_wrapper
    assert cfg.train_dataloader.batch_size == 1
    for dataset in cfg.train_dataloader.dataset.datasets:
        assert dataset.data_root == str(tmp_path / 'VOCdevkit')
        resize, = [s for s in dataset.pipeline if s.type == 'Resize']
        assert resize.scale == (512, 512)
