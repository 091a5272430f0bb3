"""The pretrained backbone's checkpoint file: writing and checking it.

The file is what mmengine's ``PretrainedInit`` reads for
``backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH)``: a dict with
``state_dict`` (exactly the keys of the tiny mmdet ``ResNet``, no prefix)
and ``meta`` (JSON-able: settings, fonts, accuracies, cache key).
"""
import os.path as osp
from typing import Dict, Tuple

import torch

from ...utils import atomic_open
from .trainer import build_backbone


def save_checkpoint(path: str, state_dict: Dict[str, torch.Tensor],
                    meta: dict) -> None:
    """Write ``{'state_dict', 'meta'}`` to ``path`` atomically."""
    with atomic_open(path, 'wb') as f:
        torch.save(dict(state_dict=state_dict, meta=meta), f)


def load_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Read and check a pretrained-backbone checkpoint.

    Args:
        path (str): The file.

    Returns:
        tuple[dict, dict]: ``state_dict`` and ``meta``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a checkpoint torch can read, or its
            ``state_dict`` does not match the tiny backbone (missing or
            unexpected keys, other shapes), naming the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'pretrained backbone checkpoint {path} does '
                                'not exist (make pretrained builds it)')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # torch raises many kinds for a corrupt file
        raise ValueError(f'{path} is not a readable checkpoint '
                         f'({type(e).__name__}: {e})') from e
    if not isinstance(ckpt, dict) or not isinstance(
            ckpt.get('state_dict'), dict):
        raise ValueError(f'{path} has no state_dict: it is not a pretrained '
                         'backbone checkpoint')
    state = ckpt['state_dict']
    expected = build_backbone().state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f'{path} does not fit the tiny ResNet-18: missing '
                         f'keys {missing[:5]}, unexpected keys '
                         f'{unexpected[:5]}')
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(f'{path}: {key} has shape '
                             f'{tuple(state[key].shape)}, the tiny ResNet-18 '
                             f'needs {tuple(value.shape)}')
    return state, dict(ckpt.get('meta') or {})
