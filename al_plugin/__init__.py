"""al_plugin: active learning for object detection, an MMDetection 3.x plugin.

Importing this package registers every component into mmdet's registries, so a
config needs only ``custom_imports = dict(imports=['al_plugin'])``. The
registration is lazy (:mod:`al_plugin.registration`): the components (torch,
mmdet's models, matplotlib) are imported by the first lookup in a registry,
so the pure-numpy parts (``al_plugin.strategies``, ``al_plugin.work_dir``,
``al_plugin.evaluation.analysis``) and the tools that only read results
start without them. The subpackages
``datasets``, ``engine``, ``evaluation``, ``models``, ``service`` and
``strategies`` are imported on first use as attributes too
(``al_plugin.engine``).
"""
import importlib

from .registration import register_lazily
from .version import __version__

SUBPACKAGES = ('datasets', 'engine', 'evaluation', 'models', 'service',
               'strategies')

register_lazily()


def __getattr__(name: str):
    if name in SUBPACKAGES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['__version__', *SUBPACKAGES]
