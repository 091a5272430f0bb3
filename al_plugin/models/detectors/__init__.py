"""Detectors; importing registers them in mmdet's MODELS."""
from .miaod import MIAOD

__all__ = ['MIAOD']
