from .active_learning_loop import ActiveLearningLoop
from .cycle_record import CycleRecorder
from .miaod_loop import MIAODTrainLoop
from .phased_loop import EpochSpec, PhasedTrainLoop

__all__ = [
    'ActiveLearningLoop', 'CycleRecorder', 'EpochSpec', 'MIAODTrainLoop',
    'PhasedTrainLoop'
]
