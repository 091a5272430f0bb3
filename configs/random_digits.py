# Random selection on the built-in digits set: the baseline every strategy
# is measured against. The tiny RetinaNet of configs/retinanet_digits.py,
# retrained from its initial weights in every cycle (500, 600, 700 labeled).
_base_ = [
    './_base_/models/retinanet_tiny.py',
    './_base_/datasets/digits_voc.py',
    './_base_/active_learning/label_cycle.py',
    './_base_/active_learning/runtime.py',
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)
custom_hooks = [
    dict(type='ActiveSelectionHook', strategy=dict(type='RandomStrategy'))
]
