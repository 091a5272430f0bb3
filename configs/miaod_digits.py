# MI-AOD on the built-in digits set, sized for a CPU (`make demo`, about 10
# minutes on 2 cores): the tiny RetinaNet of configs/retinanet_digits.py with
# the MI-AOD head, 3 cycles (500, 600, 700 labeled of 4000). The reference
# schedule (configs/miaod_voc0712.py) with one (min, max, label) round and
# no repeats, and the digits schedules' lr 0.01 + grad clipping (set for
# random init; kept with the glyph-pretrained backbone, not re-tuned).
_base_ = [
    './_base_/models/retinanet_tiny.py',
    './_base_/datasets/digits_voc.py',
    './_base_/active_learning/miaod_cycle.py',
    './_base_/active_learning/runtime.py',
]

model = dict(
    type='MIAOD',
    bbox_head=dict(type='MIAODHead'),
    train_cfg=dict(param_lambda=0.5))  # the paper's lambda

train_cfg = dict(
    cycles=[0, 1, 2],
    epoch=1,
    X_L_repeat=1,
    X_U_repeat=1,
    splitter=dict(X_L_0_size=500, X_S_size=100))

optim_wrapper = dict(
    optimizer=dict(lr=0.01), clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(base_batch_size=8)
