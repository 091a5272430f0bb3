from .active_learning_state_hook import ActiveLearningStateHook
from .active_selection_hook import ActiveSelectionHook
from .active_learning_visualization_hook import \
    ActiveLearningVisualizationHook
from .checkpoint_compat_hook import (CheckpointCompatHook,
                                     decode_from_weights_only,
                                     encode_for_weights_only)
from .cycle_checkpoint_hook import CycleCheckpointHook
from .cycle_early_stopping_hook import CycleEarlyStoppingHook
from .cycle_hooks import register_cycle_hooks
from .cycle_results_hook import CycleResultsHook
from .in_cycle_early_stopping_hook import InCycleEarlyStoppingHook

#: the old name of ActiveLearningVisualizationHook (still registered)
ALVisualizationHook = ActiveLearningVisualizationHook

__all__ = [
    'ActiveLearningStateHook', 'ActiveSelectionHook',
    'ActiveLearningVisualizationHook', 'ALVisualizationHook',
    'CheckpointCompatHook', 'CycleCheckpointHook', 'CycleEarlyStoppingHook',
    'CycleResultsHook', 'InCycleEarlyStoppingHook', 'register_cycle_hooks',
    'encode_for_weights_only', 'decode_from_weights_only'
]
