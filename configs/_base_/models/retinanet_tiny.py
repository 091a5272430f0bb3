# A tiny RetinaNet for CPU runs on the built-in digits set: ResNet-18 at 1/4
# width (base_channels=16), 64-channel FPN and head with 2 stacked convs,
# anchors half mmdet's size (octave_base_scale=2) for 10-64 px digits.
# Random init: nothing is downloaded.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    bbox_head=dict(
        num_classes=10,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        anchor_generator=dict(octave_base_scale=2)))
