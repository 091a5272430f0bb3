# Seconds-long random-selection experiment (plain label-training loop) on a
# 32-image pool, 3 cycles of 2 epochs.
_base_ = '../../configs/random_digits.py'

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    batch_sampler=None)
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(
    epochs=2, lr_decay_epochs=[1], splitter=dict(X_L_0_size=8, X_S_size=4))
default_hooks = dict(logger=dict(interval=1), visualization=dict(draw=False))
