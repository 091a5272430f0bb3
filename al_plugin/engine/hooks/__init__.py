from .active_learning_state_hook import ActiveLearningStateHook
from .active_selection_hook import ActiveSelectionHook
from .al_visualization_hook import ALVisualizationHook
from .checkpoint_compat_hook import (CheckpointCompatHook,
                                     decode_from_weights_only,
                                     encode_for_weights_only)

__all__ = [
    'ActiveLearningStateHook', 'ActiveSelectionHook', 'ALVisualizationHook',
    'CheckpointCompatHook',
    'encode_for_weights_only', 'decode_from_weights_only'
]
