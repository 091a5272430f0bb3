_base_ = 'mmdet::_base_/default_runtime.py'

# Importing the plugin registers its models, datasets, loops and hooks.
custom_imports = dict(imports=['al_plugin'], allow_failed_imports=False)

# Checkpoints stay loadable with torch.load(weights_only=True) (torch >= 2.6):
# the message hub's numpy/HistoryBuffer objects are stored as tensors. Kept in
# `default_hooks` so that a config's own `custom_hooks` cannot drop it.
# Checkpoints are written to a temporary file and renamed into place
# (`atomic_local`, al_plugin/engine/checkpoint_io.py): a killed run leaves a
# complete checkpoint or none, never a truncated one.
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    checkpoint_compat=dict(type='CheckpointCompatHook'))
