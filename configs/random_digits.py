# Random selection on the built-in digits set: the baseline every strategy
# is measured against. The tiny RetinaNet of configs/retinanet_digits.py,
# retrained from its initial weights in every cycle (500, 600, 700 labeled).
_base_ = [
    './_base_/models/retinanet_tiny.py',
    './_base_/datasets/digits_voc.py',
    './_base_/active_learning/label_cycle.py',
    './_base_/active_learning/runtime.py',
    './_base_/schedules/sgd_digits_optim.py',
]

custom_hooks = [
    dict(type='ActiveSelectionHook', strategy=dict(type='RandomStrategy'))
]
