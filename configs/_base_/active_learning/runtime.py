# Runtime of an active-learning experiment: mmdet's default runtime plus the
# loop's state in checkpoints, cycle/phase in log lines, and DDP settings
# for phases that train only part of the model.
_base_ = '../default_runtime.py'

# Epoch checkpoints (written atomically, see ../default_runtime.py); the loop
# adds `cycle_<c>.pth` after every selection and keeps the newest
# `train_cfg.max_keep_cycle_ckpts` (default 2) of those.
# Per cycle, through the visualizer (`vis_data/`, TensorBoard if configured):
# metrics and set sizes (step = cycle), the histogram of the pool's scores,
# the top selected images with predicted boxes, and the losses per phase.
# A `default_hooks` key, so that a config's own `custom_hooks` keeps it;
# `default_hooks.al_visualization.draw=False` skips the predictions and the
# drawing of the selected images.
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    al_state=dict(type='ActiveLearningStateHook'),
    al_visualization=dict(type='ActiveLearningVisualizationHook'))
log_processor = dict(type='ActiveLearningLogProcessor', by_epoch=True)
# The min/max phases freeze parameters and the unlabeled step leaves the
# regression and MIL branches out of the graph.
find_unused_parameters = True
randomness = dict(seed=666)  # the reference's seed, reset every cycle
