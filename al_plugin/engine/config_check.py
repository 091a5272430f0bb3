"""Checks of an experiment config that ``tools/*.py`` run at config load,
before the Runner (and its work dir) exists."""
import copy
import inspect
from typing import Iterator, Optional, Tuple

from mmdet.registry import HOOKS

from al_plugin.strategies import check_options, check_strategy_cfg
from .hooks import ActiveSelectionHook
from .scoring import check_scorer_cfg


def _selection_hook_cls(hook_type) -> Optional[type]:
    """The :class:`ActiveSelectionHook` (sub)class a hook config's ``type``
    names, else None."""
    if isinstance(hook_type, str):
        hook_type = HOOKS.get(hook_type)
    if inspect.isclass(hook_type) and issubclass(hook_type,
                                                 ActiveSelectionHook):
        return hook_type
    return None


def selection_hooks(cfg) -> Iterator[Tuple[int, dict, type]]:
    """``(index, hook config, hook class)`` of every
    :class:`ActiveSelectionHook` (or subclass) in ``cfg.custom_hooks``."""
    for i, hook in enumerate(cfg.get('custom_hooks', None) or []):
        hook_cls = _selection_hook_cls(
            hook.get('type') if isinstance(hook, dict) else None)
        if hook_cls is not None:
            yield i, hook, hook_cls


def check_selection_hooks(cfg) -> None:
    """Check every :class:`ActiveSelectionHook` in ``cfg.custom_hooks``.

    The hook config must give ``strategy`` and only options the hook's
    ``__init__`` accepts (plus the Runner's ``priority``), the strategy
    config must pass :func:`check_strategy_cfg`, ``scorer_cfg`` must set
    only options of the scorer's output functions (any of
    ``scoring.scorer_options()``, whatever the strategy), and the hook
    must build (its strategy's option values and required outputs). No
    model or dataset is built, so a misspelt name or option fails in
    seconds, with the registered names or the accepted options in the
    message.

    Args:
        cfg (Config | dict): An experiment config, ``--cfg-options``
            merged.

    Raises:
        KeyError | TypeError | ValueError: For the first bad hook or
            strategy config.
    """
    for i, hook, hook_cls in selection_hooks(cfg):
        where = f'custom_hooks[{i}]'
        check_options(
            hook_cls,
            hook,
            f'{hook_cls.__name__} ({where})',
            ignore=('type', '_scope_', 'priority'))
        check_strategy_cfg(hook['strategy'], f'{where}.strategy')
        check_scorer_cfg(hook.get('scorer_cfg'),
                         f'{hook_cls.__name__}.scorer_cfg ({where})')
        # Building the hook builds its strategy: option values (a bad
        # `mode`, a threshold out of range) and the outputs the strategy
        # requires are checked too. Strategies are plain numpy objects.
        options = {
            k: copy.deepcopy(v)
            for k, v in hook.items()
            if k not in ('type', '_scope_', 'priority')
        }
        try:
            hook_cls(**options)
        except (KeyError, TypeError, ValueError) as error:
            raise type(error)(f'{where}: {error}') from error
