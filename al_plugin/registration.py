"""How ``import al_plugin`` registers the plugin without importing it.

The plugin's datasets, hooks, loops and models subclass mmdet's and go into
mmdet's registries (a few into mmengine's root ones). Importing them costs
torch, ``mmdet.models`` and through it matplotlib: seconds that the
pure-numpy parts (strategies, the analysis of results and the tools that
print them) never need. So ``import al_plugin`` registers the plugin the way
mmdet registers its own modules: the packages of :data:`COMPONENTS` become
import locations of every registry in ``mmengine.registry`` and
``mmdet.registry``, and the first lookup in one of them (a config being
built, ``MODELS.get('MIAOD')``, ``HOOKS.build(...)``) imports them, before it
searches.

Neither registry module is imported for this: one not imported yet gets the
locations right after its import (a finder on ``sys.meta_path`` wraps its
loader, then leaves). A registry that has already imported its locations
does not look again, so when one has, the components are imported at once.

mmengine 0.10.7 takes ``locations`` only in ``Registry.__init__`` and has no
public API to add one to another package's registry: :func:`add_locations`
reads and sets ``Registry._locations`` and ``Registry._imported``.
"""
import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

#: The packages whose import registers every component of the plugin.
COMPONENTS = ('al_plugin.datasets', 'al_plugin.engine',
              'al_plugin.evaluation.classwise_voc_metric',
              'al_plugin.evaluation.froc_metric', 'al_plugin.models')
#: The modules whose registries receive the plugin's components.
REGISTRY_MODULES = ('mmengine.registry', 'mmdet.registry')


def import_components() -> None:
    """Import (and so register) every component of the plugin now."""
    for name in COMPONENTS:
        importlib.import_module(name)


def add_locations(module: ModuleType) -> None:
    """Make :data:`COMPONENTS` import locations of every registry defined in
    ``module``; import them now if one of the registries has already
    imported its own locations."""
    from mmengine.registry import Registry
    registries = [
        value for value in vars(module).values()
        if isinstance(value, Registry)
    ]
    if any(registry._imported for registry in registries):
        import_components()
        return
    for registry in registries:
        # a new list: a registry made without locations shares the default
        registry._locations = list(registry._locations) + [
            name for name in COMPONENTS if name not in registry._locations
        ]


class _AddLocationsAfterExec(importlib.abc.Loader):
    """Run the real loader, then :func:`add_locations` on the module."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # tracebacks, inspect and pkgutil see the real loader
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        add_locations(module)


class RegistryModuleFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: on the import of one of ``names`` it gives the
    module's own spec with a loader that adds the plugin's locations after
    the module has run; it leaves ``sys.meta_path`` after the last name."""

    def __init__(self, names) -> None:
        self.names = set(names)

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.names:
            return None
        self.names.discard(fullname)
        sys.meta_path.remove(self)  # find the real spec without us
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            if self.names:
                sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            spec.loader = _AddLocationsAfterExec(spec.loader)
        return spec


def register_lazily() -> None:
    """Register the plugin: :func:`add_locations` on the registry modules
    imported already, and on the others when they are imported."""
    pending = []
    for name in REGISTRY_MODULES:
        module = sys.modules.get(name)
        if module is None:
            pending.append(name)
        else:
            add_locations(module)
    if pending and not any(
            isinstance(finder, RegistryModuleFinder)
            for finder in sys.meta_path):
        sys.meta_path.insert(0, RegistryModuleFinder(pending))
