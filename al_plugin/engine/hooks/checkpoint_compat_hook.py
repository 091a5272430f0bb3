"""Make mmengine checkpoints loadable with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
every global that is not a tensor, a plain container or a small allow-list.
mmengine's checkpoints carry the message hub, whose ``HistoryBuffer`` objects
hold numpy arrays, and numpy scalars appear in runtime info: ``--resume``
fails.  Rather than allow-listing those globals (``builtins.getattr`` among
them) or turning ``weights_only`` off, this hook encodes them into tensors and
plain types before a checkpoint is written and decodes them right after one is
loaded, before the runner restores the message hub.
"""
from collections import Counter, OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmdet.registry import HOOKS

_TAG = '__al_plugin_type__'


def encode_for_weights_only(obj: Any) -> Any:
    """Recursively replace objects ``weights_only`` refuses by plain ones.

    - ``HistoryBuffer`` -> ``{_TAG: 'HistoryBuffer', 'log', 'count',
      'max_length'}`` with float64 / int64 tensors;
    - ``np.ndarray`` -> ``{_TAG: 'ndarray', 'data': Tensor, 'dtype': str}``
      (object or string arrays become ``{_TAG: 'ndarray_list', ...}``);
    - numpy scalars -> python scalars;
    - dict subclasses other than ``OrderedDict`` / ``Counter`` (e.g.
      ``ConfigDict``) -> ``dict``; tuples and lists are walked.

    Tensors and plain types are returned unchanged (no copy).
    """
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {
            _TAG: 'HistoryBuffer',
            'log': torch.as_tensor(np.asarray(log, dtype=np.float64)),
            'count': torch.as_tensor(np.asarray(count, dtype=np.int64)),
            'max_length': int(obj.max_length),
        }
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in 'biuf':
            return {
                _TAG: 'ndarray',
                'data': torch.from_numpy(np.ascontiguousarray(obj).copy()),
                'dtype': obj.dtype.str
            }
        return {_TAG: 'ndarray_list', 'data': obj.tolist(),
                'dtype': obj.dtype.str}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        keep = type(obj) if isinstance(obj, (OrderedDict, Counter)) else dict
        return _rebuild(obj, encode_for_weights_only, keep)
    if isinstance(obj, (list, tuple)):
        return _rebuild(obj, encode_for_weights_only)
    return obj


def _rebuild(obj, fn, mapping_type=None):
    """Apply ``fn`` to the values of a container.

    The container itself is returned when nothing changed and its type is
    already right, so e.g. a model ``state_dict`` keeps its ``_metadata``.
    """
    if isinstance(obj, dict):
        new = {k: fn(v) for k, v in obj.items()}
        same = all(new[k] is v for k, v in obj.items())
        if same and type(obj) is mapping_type:
            return obj
        return mapping_type(new)
    new = [fn(v) for v in obj]
    if all(a is b for a, b in zip(new, obj)):
        return obj
    return type(obj)(new)


def decode_from_weights_only(obj: Any) -> Any:
    """Inverse of :func:`encode_for_weights_only`."""
    if isinstance(obj, dict):
        tag = obj.get(_TAG)
        if tag == 'HistoryBuffer':
            return HistoryBuffer(obj['log'].numpy().tolist(),
                                 obj['count'].numpy().tolist(),
                                 obj['max_length'])
        if tag == 'ndarray':
            return obj['data'].numpy().astype(np.dtype(obj['dtype']))
        if tag == 'ndarray_list':
            return np.array(obj['data'], dtype=np.dtype(obj['dtype']))
        return _rebuild(obj, decode_from_weights_only, type(obj))
    if isinstance(obj, (list, tuple)):
        return _rebuild(obj, decode_from_weights_only)
    return obj


@HOOKS.register_module()
class CheckpointCompatHook(Hook):
    """Keep checkpoints loadable under ``torch.load(weights_only=True)``.

    ``before_save_checkpoint`` encodes every non-tensor object of the
    checkpoint dict (see :func:`encode_for_weights_only`);
    ``after_load_checkpoint`` decodes them in place.  mmengine calls
    ``after_load_checkpoint`` inside ``Runner.load_checkpoint``, i.e. before
    ``Runner.resume`` restores the message hub, so the runner only ever sees
    the original objects.  The priority is ``VERY_LOW`` so that whatever other
    hooks add to a checkpoint is encoded too.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = encode_for_weights_only(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = decode_from_weights_only(checkpoint[key])
