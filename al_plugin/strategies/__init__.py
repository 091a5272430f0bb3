"""Selection strategies: pure functions of per-image arrays."""
from .base import DETECTION_OUTPUTS, BaseStrategy, confident_detections
from .builder import check_options, check_strategy_cfg, init_options
from .diversity import CoreSetStrategy, KMeansStrategy, kmeans_pp_seeds
from .gradient import GradientEmbeddingStrategy
from .hybrid import HybridStrategy
from .localization import (LocalizationStabilityStrategy,
                           LocalizationTightnessStrategy)
from .miaod import InstanceUncertaintyStrategy
from .mining import SelfSupervisedMiningStrategy
from .mixture import GaussianMixtureStrategy, proportional_quotas
from .random import RandomStrategy
from .reconstruction import VAEReconstructionStrategy
from .uncertainty import (BoxUncertaintyStrategy, EntropyStrategy,
                          LeastConfidenceStrategy, MarginStrategy,
                          RatioStrategy)

__all__ = [
    'DETECTION_OUTPUTS', 'BaseStrategy', 'confident_detections',
    'BoxUncertaintyStrategy', 'CoreSetStrategy',
    'EntropyStrategy', 'GaussianMixtureStrategy',
    'GradientEmbeddingStrategy', 'HybridStrategy',
    'InstanceUncertaintyStrategy', 'KMeansStrategy',
    'LeastConfidenceStrategy', 'LocalizationStabilityStrategy',
    'LocalizationTightnessStrategy',
    'MarginStrategy', 'RandomStrategy', 'RatioStrategy',
    'SelfSupervisedMiningStrategy', 'VAEReconstructionStrategy',
    'check_options', 'check_strategy_cfg', 'init_options',
    'kmeans_pp_seeds', 'proportional_quotas'
]
