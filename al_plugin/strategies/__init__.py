"""Selection strategies: pure functions of per-image arrays."""
from .base import BaseStrategy
from .builder import check_options, check_strategy_cfg, init_options
from .diversity import CoreSetStrategy, KMeansStrategy
from .hybrid import HybridStrategy
from .localization import LocalizationStabilityStrategy
from .miaod import InstanceUncertaintyStrategy
from .mining import SelfSupervisedMiningStrategy
from .random import RandomStrategy
from .uncertainty import (BoxUncertaintyStrategy, EntropyStrategy,
                          LeastConfidenceStrategy, MarginStrategy)

__all__ = [
    'BaseStrategy', 'BoxUncertaintyStrategy', 'CoreSetStrategy',
    'EntropyStrategy', 'HybridStrategy', 'InstanceUncertaintyStrategy',
    'KMeansStrategy', 'LeastConfidenceStrategy',
    'LocalizationStabilityStrategy', 'MarginStrategy', 'RandomStrategy',
    'SelfSupervisedMiningStrategy', 'check_options', 'check_strategy_cfg',
    'init_options'
]
