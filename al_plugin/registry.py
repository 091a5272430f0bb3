"""Registries that mmdet does not have.

Every model, dataset, hook and loop of the plugin goes into mmdet's own
registries (``mmdet.registry``), so configs keep ``default_scope = 'mmdet'``.
Three kinds of objects have no mmdet counterpart and get a registry here:

- ``STRATEGIES``: selection strategies (pure functions of per-image arrays).
- ``SPLITTERS``: active-dataset splitters (own the labeled / unlabeled split
  and the ``X_L_<c>.npy`` / ``X_U_<c>.npy`` files).
- ``ADAPTERS``: output adapters, one a detector family (what the selection
  scorer reads from a one-stage or a two-stage detector).
"""
from mmengine.registry import Registry

STRATEGIES = Registry('al_strategy', locations=['al_plugin.strategies'])
SPLITTERS = Registry('al_splitter', locations=['al_plugin.datasets'])
ADAPTERS = Registry('al_output_adapter', locations=['al_plugin.models'])
