# Seconds-long MI-AOD experiment for the tests: configs/miaod_digits.py on
# a 32-image pool (64 px canvases), one (min, max, label) round, 3 cycles.
_base_ = '../../configs/miaod_digits.py'

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    batch_sampler=None)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(
    cycles=[0, 1, 2],
    epoch=1,
    epoch_ratio=[1, 1],
    warmup_iters=0,
    splitter=dict(X_L_0_size=8, X_S_size=4))
custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='InstanceUncertaintyStrategy'),
        scorer_cfg=dict(k=100))
]
default_hooks = dict(logger=dict(interval=1), visualization=dict(draw=False))
