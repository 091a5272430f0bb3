from .active_learning_loop import ActiveLearningLoop
from .miaod_loop import MIAODTrainLoop

__all__ = ['ActiveLearningLoop', 'MIAODTrainLoop']
