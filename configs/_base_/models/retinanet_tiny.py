# A tiny RetinaNet for CPU runs on the built-in digits set: ResNet-18 at 1/4
# width (base_channels=16), 64-channel FPN and head with 2 stacked convs,
# anchors half mmdet's size (octave_base_scale=2) for 10-64 px digits.
# The backbone starts from weights pretrained on printed glyphs (digits and
# letters rendered from matplotlib's fonts, never the handwritten pool), the
# analogue of mmdet's ImageNet init: tools/pretrain_backbone.py builds them
# (`make pretrained`, also run by `make demo` / `make test`). From scratch:
#   --cfg-options model.backbone.init_cfg=None
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/glyph_resnet18_tiny.pth')),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    bbox_head=dict(
        num_classes=10,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        anchor_generator=dict(octave_base_scale=2)))
