# Seconds-long variant of configs/retinanet_digits.py for the tests: batch 4,
# no workers (the digits set has no random augmentation, so a resumed run is
# bit-identical), `data_root` set by the test through --cfg-options.
_base_ = '../../configs/retinanet_digits.py'

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
train_cfg = dict(max_epochs=2, val_interval=100)
param_scheduler = []
default_hooks = dict(
    logger=dict(interval=1), visualization=dict(draw=False))
randomness = dict(seed=0)
