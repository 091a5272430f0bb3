"""Dense heads; importing registers them in mmdet's MODELS."""
from .miaod_head import MIAODHead

__all__ = ['MIAODHead']
