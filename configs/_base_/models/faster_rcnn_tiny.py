# A tiny Faster R-CNN for CPU runs on the built-in digits set, the two-stage
# counterpart of retinanet_tiny.py: ResNet-18 at 1/4 width
# (base_channels=16), 64-channel FPN, RPN and RoI features, 256-wide box
# head fcs, RPN anchors half mmdet's size (scales=[4]) for 10-64 px digits.
# The backbone starts from weights pretrained on printed glyphs (digits and
# letters rendered from matplotlib's fonts, never the handwritten pool), the
# analogue of mmdet's ImageNet init: tools/pretrain_backbone.py builds them
# (`make pretrained`, also run by `make demo` / `make test`). From scratch:
#   --cfg-options model.backbone.init_cfg=None
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

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
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=10)))
