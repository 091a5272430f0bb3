"""Loops, hooks, log processor and distributed glue of the plugin."""
from .dist import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import *  # noqa: F401,F403
from .log_processor import ActiveLearningLogProcessor
from .loops import ActiveLearningLoop, MIAODTrainLoop

__all__ = [
    'CPUDistributedDataParallel', 'setup_cpu_distributed',
    'ActiveLearningLogProcessor', 'ActiveLearningLoop', 'MIAODTrainLoop'
]
