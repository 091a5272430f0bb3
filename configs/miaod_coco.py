# MI-AOD, RetinaNet R-50 FPN, COCO train2017 pool (117266 images with boxes),
# the reference's COCO variant: 1333x800, 2 % labeled at first, 2 % added a
# cycle, 5 cycles (2 % .. 10 %), a 500-iteration warm-up restarted at every
# phase, COCO bbox metrics on val2017.
_base_ = [
    './_base_/models/miaod_retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    './_base_/active_learning/miaod_cycle.py',
    './_base_/active_learning/runtime.py',
]

model = dict(bbox_head=dict(num_classes=80))
# the pool: global index = position in instances_train2017.json (images
# without boxes dropped, as the reference's 117266)
train_dataloader = dict(
    dataset=dict(filter_cfg=dict(filter_empty_gt=True, min_size=0)))
train_cfg = dict(
    cycles=[0, 1, 2, 3, 4],
    warmup_iters=500,
    warmup_ratio=0.001,
    splitter=dict(X_L_0_size=0.02, X_S_size=0.02))
