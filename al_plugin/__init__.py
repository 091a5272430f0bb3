"""al_plugin: active learning for object detection, an MMDetection 3.x plugin.

Importing this package registers every component into mmdet's registries, so a
config needs only ``custom_imports = dict(imports=['al_plugin'])``.
"""
from .version import __version__  # noqa: F401
from . import datasets, engine, models, strategies  # noqa: F401,E402

__all__ = ['__version__', 'datasets', 'engine', 'models', 'strategies']
