# An active-learning experiment with plain supervised training in every
# cycle (no MI-AOD phases): what every non-MI-AOD strategy runs on.
train_cfg = dict(
    type='ActiveLearningLoop',
    cycles=[0, 1, 2],
    epochs=8,  # label-training epochs per cycle
    X_L_repeat=1,
    lr_decay_epochs=[7],  # lr x0.1 for the last epoch, as MI-AOD's cycle
    splitter=dict(
        type='ActiveDatasetSplitter', X_L_0_size=500, X_S_size=100,
        seed=666))
# The loop owns the lr schedule (per phase, see its docstring).
param_scheduler = []
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
