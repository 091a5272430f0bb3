"""Loops, hooks, log processor, checkpoint files and distributed glue of the
plugin."""
from .checkpoint_io import (AtomicLocalBackend, find_resume_checkpoint,
                            prune_checkpoints)
from .config_check import build_runner, check_selection_hooks
from .dist import (CPUDistributedDataParallel, setup_cpu_distributed,
                   teardown_cpu_distributed)
from .hooks import *  # noqa: F401,F403
from .log_processor import ActiveLearningLogProcessor
from .loops import ActiveLearningLoop, MIAODTrainLoop

__all__ = [
    'AtomicLocalBackend', 'find_resume_checkpoint', 'prune_checkpoints',
    'CPUDistributedDataParallel', 'setup_cpu_distributed',
    'teardown_cpu_distributed',
    'ActiveLearningLogProcessor', 'ActiveLearningLoop', 'MIAODTrainLoop',
    'build_runner', 'check_selection_hooks'
]
