# Entropy selection with a two-stage detector: the experiment of
# entropy_digits.py with the tiny Faster R-CNN in place of the tiny
# RetinaNet. A box's class distribution is the RoI head's softmax (background
# dropped) on an RPN proposal; the scorer finds the two-stage path by itself.
_base_ = [
    './_base_/models/faster_rcnn_tiny.py',
    './_base_/datasets/digits_voc.py',
    './_base_/active_learning/label_cycle.py',
    './_base_/active_learning/runtime.py',
    './_base_/schedules/sgd_digits_optim.py',
]

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='EntropyStrategy', reduction='max'),
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
