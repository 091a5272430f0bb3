"""Class-balanced entropy selection, an al_plugin strategy in a project.

Importing this package registers ``ClassBalancedEntropyStrategy`` into
``al_plugin.registry.STRATEGIES``; a config loads it with ``custom_imports``.
"""
from .class_balanced_entropy import ClassBalancedEntropyStrategy

__all__ = ['ClassBalancedEntropyStrategy']
