# One MI-AOD experiment: the reference's cycle schedule and selection.
# Keys keep the reference's names; sizes are set by the dataset configs.
train_cfg = dict(
    type='MIAODTrainLoop',
    cycles=[0, 1, 2, 3, 4, 5, 6],  # 7 cycles, 6 selections
    epoch=2,  # rounds of (min, max, label) after the first label block
    epoch_ratio=[3, 1],  # [label epochs, min/max epochs] per block
    X_L_repeat=2,  # passes over X_L in one epoch
    X_U_repeat=2,  # passes over X_U in one epoch
    lr_decay=0.1,  # for the last epoch of a cycle
    splitter=dict(
        type='ActiveDatasetSplitter',
        X_L_0_size=0.05,  # initial labeled set (reference: 16551 // 20)
        X_S_size=0.025,  # budget per cycle (reference: 16551 // 40)
        seed=666))
# The loop owns the lr schedule (per phase, see its docstring).
param_scheduler = []
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# SGD as the reference runs it (it hard-codes weight decay 5e-4).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
# lr above is for 2 images on 1 GPU; `--auto-scale-lr` rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=2)

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='InstanceUncertaintyStrategy'),
        scorer_cfg=dict(k=10000))  # the reference's k: top-k anchor mean
]
