"""Checks of an experiment config that ``tools/*.py`` run at config load,
before the Runner (and its work dir) exists, and the Runner built with what
they built.

:func:`check_selection_hooks` builds every selection hook (and with it its
strategy, the only way to check option values); :func:`build_runner` hands
those objects to the Runner, so a run builds its strategy once.
"""
import copy
import inspect
from typing import Dict, Iterator, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmdet.registry import HOOKS, MODELS

from al_plugin.models import OutputAdapter, adapter_class
from al_plugin.registry import ADAPTERS
from al_plugin.strategies import check_options, check_strategy_cfg
from .hooks import ActiveSelectionHook
from .scoring import FAMILY_OUTPUTS, LABELED_OUTPUTS, check_scorer_cfg


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


def check_selection_hooks(cfg) -> Dict[int, Hook]:
    """Check and build every :class:`ActiveSelectionHook` in
    ``cfg.custom_hooks``.

    The hook config must give ``strategy`` and only options the hook's
    ``__init__`` accepts (plus the Runner's ``priority``), the strategy
    config must pass :func:`check_strategy_cfg`, ``scorer_cfg`` must set
    only options of the scorer's output functions (any of
    ``scoring.scorer_options()``, whatever the strategy), and the hook
    must build (its strategy's option values and required outputs), and
    the config's detector family must give those outputs
    (:func:`check_model_outputs`). No model or dataset is built, so a
    misspelt name or option fails in seconds, with the registered names
    or the accepted options in the message.

    Args:
        cfg (Config | dict): An experiment config, ``--cfg-options``
            merged.

    Returns:
        dict[int, Hook]: index in ``cfg.custom_hooks`` -> the hook built
        from that config (its ``priority`` set), for :func:`build_runner`.

    Raises:
        KeyError | TypeError | ValueError: For the first bad hook or
            strategy config.
    """
    built = {}
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
            built[i] = hook_cls(**options)
        except (KeyError, TypeError, ValueError) as error:
            raise type(error)(f'{where}: {error}') from error
        if 'priority' in hook:
            built[i].priority = hook['priority']  # as Runner.register_hook
        strategy = built[i].strategy
        if isinstance(cfg.get('model'), dict):
            check_model_outputs(
                list(strategy.requires) +
                [LABELED_OUTPUTS[n] for n in strategy.requires_labeled],
                cfg['model'], hook.get('adapter'),
                f'{where}: {strategy.name}')
    return built


def build_runner(cfg, hooks: Optional[Dict[int, Hook]] = None) -> Runner:
    """The Runner of ``cfg``, given the hooks :func:`check_selection_hooks`
    built from it instead of building them again.

    ``Runner.from_cfg(cfg)`` (``RUNNERS.build(cfg)`` with a
    ``runner_type``), except that ``custom_hooks[i]`` is ``hooks[i]``
    where given. The config the Runner keeps (dumped into the work dir,
    saved in checkpoints) is ``cfg`` with every hook config as written. A
    ``runner_type`` with its own ``from_cfg`` gets the configs and builds
    the hooks itself.

    Args:
        cfg (Config): The experiment config, ready to run.
        hooks (dict[int, Hook], optional): Index in ``cfg.custom_hooks``
            -> the hook built from that config.

    Returns:
        Runner: The runner.

    Raises:
        IndexError: A key of ``hooks`` is no index of ``custom_hooks``.
    """
    runner_cls = (RUNNERS.get(cfg['runner_type'])
                  if 'runner_type' in cfg else Runner)
    own_from_cfg = (inspect.isclass(runner_cls)
                    and issubclass(runner_cls, Runner)
                    and runner_cls.from_cfg.__func__
                    is Runner.from_cfg.__func__)
    if not hooks or not own_from_cfg:
        return (RUNNERS.build(cfg) if 'runner_type' in cfg else
                Runner.from_cfg(cfg))
    cfg = copy.deepcopy(cfg)
    custom_hooks = list(cfg.get('custom_hooks') or [])
    for i, hook in hooks.items():
        if not 0 <= i < len(custom_hooks):
            raise IndexError(f'hooks[{i}]: the config has '
                             f'{len(custom_hooks)} custom_hooks')
        custom_hooks[i] = hook
    # Runner.from_cfg passes each __init__ option from the key of that
    # name, the option's default where the config has none
    options = {}
    for name, param in inspect.signature(Runner.__init__).parameters.items():
        if name in ('self', 'cfg'):
            continue
        options[name] = (cfg[name] if param.default is param.empty else
                         cfg.get(name, copy.deepcopy(param.default)))
    options['custom_hooks'] = custom_hooks
    return runner_cls(**options, cfg=cfg)


def adapter_gives(adapter: type, name: str) -> bool:
    """Whether the output adapter class ``adapter`` computes the scorer
    output ``name``: every adapter gives every output but those of
    ``scoring.FAMILY_OUTPUTS``, which need the adapter to implement their
    method (the base :class:`OutputAdapter`'s raises)."""
    method = FAMILY_OUTPUTS.get(name)
    return method is None or (getattr(adapter, method)
                              is not getattr(OutputAdapter, method))


def check_model_outputs(names, model_cfg: dict,
                        adapter_cfg: Optional[dict] = None,
                        who: str = 'the strategy') -> None:
    """Raise ``TypeError`` if the detector of ``model_cfg`` cannot give a
    scorer output in ``names`` (a one-stage detector has no proposals to
    measure tightness on), naming the output, the detector, its family
    and the families that do give it. No model is built: the family is
    the one of the adapter that ``model.type`` (its class) gets.

    Args:
        names (Sequence[str]): Keys of ``scoring.OUTPUTS``.
        model_cfg (dict): The config's ``model``.
        adapter_cfg (dict, optional): The hook's ``adapter``, if it names
            one; else the first registered adapter that applies.
        who (str): How the message names the strategy.
    """
    model_type = model_cfg.get('type')
    if isinstance(model_type, str):
        model_type = MODELS.get(model_type)
    if not inspect.isclass(model_type):
        return  # an unknown type fails when the Runner builds the model
    adapter = (ADAPTERS.get(adapter_cfg.get('type')) if adapter_cfg else
               adapter_class(model_type))
    if adapter is None:
        return  # build_adapter names the registered ones at run time
    for name in names:
        if not adapter_gives(adapter, name):
            others = [
                f'{a.__name__} ({a.family})'
                for a in ADAPTERS.module_dict.values()
                if adapter_gives(a, name)
            ]
            raise TypeError(
                f'{who} requires the output {name!r}, which '
                f'{adapter.__name__} cannot compute for '
                f'model.type={model_type.__name__} ({adapter.family}); '
                f'adapters that give it: {", ".join(others) or "none"}')
