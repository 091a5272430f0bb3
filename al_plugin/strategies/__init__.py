"""Selection strategies: pure functions of per-image arrays."""
from .base import BaseStrategy
from .miaod import InstanceUncertaintyStrategy
from .random import RandomStrategy

__all__ = ['BaseStrategy', 'InstanceUncertaintyStrategy', 'RandomStrategy']
