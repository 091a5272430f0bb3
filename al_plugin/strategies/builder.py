"""Check a strategy config against the registry before anything is built.

A misspelt strategy name or option otherwise surfaces only when the Runner
builds the hooks, after it made the work dir, and as a bare registry
``KeyError`` or ``__init__`` ``TypeError``. :func:`check_strategy_cfg` reads
only the registry and the ``__init__`` signatures, so it runs at config load
and names what would have been accepted.
"""
import difflib
import inspect
from typing import List, Optional, Tuple

from mmengine.registry import Registry

from al_plugin.registry import STRATEGIES


def init_options(cls) -> Tuple[List[str], dict]:
    """The keyword options ``cls(**options)`` accepts.

    Walks the MRO from ``cls``: the ``__init__`` of each class that defines
    one contributes its named parameters, and the walk goes on to the next
    ``__init__`` only while the current one takes ``**kwargs`` (which it is
    taken to pass to ``super().__init__``, as every strategy here does).
    ``object.__init__`` contributes nothing. A callable that is not a class
    contributes its own parameters.

    Args:
        cls (type | Callable): What a config's ``type`` names.

    Returns:
        tuple: the names of the required options (no default) in signature
        order, and ``{name: default}`` of the optional ones; a name keeps
        its first (most derived) definition.
    """
    if inspect.isclass(cls):
        inits = [
            klass.__dict__['__init__'] for klass in cls.__mro__
            if klass is not object and '__init__' in klass.__dict__
        ]
    else:
        inits = [cls]
    required: List[str] = []
    optional: dict = {}
    for init in inits:
        params = list(inspect.signature(init).parameters.values())
        if init is not cls:
            params = params[1:]  # self
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD,
                              param.POSITIONAL_ONLY):
                continue
            if param.name in required or param.name in optional:
                continue
            if param.default is param.empty:
                required.append(param.name)
            else:
                optional[param.name] = param.default
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return required, optional


def _describe(required: List[str], optional: dict) -> str:
    """``'a, b=1, c=None'``: the accepted options with their defaults."""
    parts = list(required) + [f'{k}={v!r}' for k, v in optional.items()]
    return ', '.join(parts) if parts else '(none)'


def _names(registry: Registry) -> List[str]:
    registry.import_from_location()
    return sorted(registry.module_dict)


def _suggest(name: str, choices) -> str:
    """``" (did you mean 'x'?)"`` for the one choice that contains
    ``name`` or else the closest one, if any is close."""
    close = [c for c in choices if name.lower() in c.lower()]
    if len(close) != 1:
        close = difflib.get_close_matches(name, list(choices), 1, 0.75)
    return f' (did you mean {close[0]!r}?)' if close else ''


def check_options(cls, cfg: dict, what: str,
                  ignore: Tuple[str, ...] = ('type', '_scope_')) -> None:
    """Raise ``TypeError`` if ``cfg`` misses an option ``cls`` requires or
    gives one it does not accept (see :func:`init_options`).

    Args:
        cls (type | Callable): What ``cfg['type']`` resolved to.
        cfg (dict): Its config.
        what (str): How the messages name it, e.g.
            ``'EntropyStrategy (custom_hooks[0].strategy)'``.
        ignore (tuple[str]): Keys that are no options. Defaults to
            ``('type', '_scope_')``.
    """
    required, optional = init_options(cls)
    check_keys(cfg, required, optional, what, ignore)


def check_keys(cfg: dict,
               required: List[str],
               optional: dict,
               what: str,
               ignore: Tuple[str, ...] = ()) -> None:
    """Raise ``TypeError`` if ``cfg`` misses a ``required`` key or gives
    one that is neither required nor ``optional``; the message names the
    keys, suggests the closest accepted name and lists every accepted one
    (with its default).

    Args:
        cfg (dict): The options given.
        required (list[str]): Names that must be given.
        optional (dict): ``{name: default}`` of the others accepted.
        what (str): How the messages name ``cfg``.
        ignore (tuple[str]): Keys that are no options. Defaults to none.
    """
    accepted = _describe(required, optional)
    unknown = [
        k for k in cfg
        if k not in ignore and k not in required and k not in optional
    ]
    if unknown:
        hints = ''.join(
            _suggest(k, required + list(optional)) for k in unknown)
        raise TypeError(f'{what} got unknown option(s) '
                        f'{", ".join(map(repr, unknown))}{hints}; accepted '
                        f'options: {accepted}')
    missing = [k for k in required if k not in cfg]
    if missing:
        raise TypeError(f'{what} is missing required option(s) '
                        f'{", ".join(map(repr, missing))}; accepted options: '
                        f'{accepted}')


def check_strategy_cfg(cfg: dict,
                       where: str = 'strategy',
                       registry: Optional[Registry] = None) -> None:
    """Raise if ``cfg`` names no registered strategy or bad options.

    Checks, without building anything:

    - ``cfg['type']`` is registered in ``registry`` (or is a class or
      callable itself); the error lists the registered names, sorted;
    - every option without a default is given, and every given option is
      accepted (see :func:`init_options`); the errors name the strategy,
      the bad keys and the accepted options with their defaults;
    - the options a strategy class lists in ``sub_strategies`` (e.g.
      :class:`HybridStrategy`'s ``uncertainty`` and ``diversity``), where
      given, recursively.

    Values are not checked (a strategy's ``__init__`` does that when built).

    Args:
        cfg (dict): A strategy config, ``dict(type=..., **options)``.
        where (str): Where ``cfg`` sits in the experiment config, for the
            messages. Defaults to ``'strategy'``.
        registry (Registry, optional): Defaults to ``STRATEGIES``.

    Raises:
        TypeError: ``cfg`` is not a dict, or an option is missing or
            unknown.
        KeyError: ``cfg`` has no ``type`` or names an unregistered one.
    """
    registry = STRATEGIES if registry is None else registry
    if not isinstance(cfg, dict):
        raise TypeError(f'{where} must be a dict with a `type`, got '
                        f'{type(cfg).__name__}: {cfg!r}')
    strategy_type = cfg.get('type')
    if strategy_type is None:
        raise KeyError(f'{where} has no `type`; registered strategies: '
                       f'{", ".join(_names(registry))}')
    if isinstance(strategy_type, str):
        strategy_cls = registry.get(strategy_type)
        if strategy_cls is None:
            names = _names(registry)
            raise KeyError(
                f'unknown strategy {strategy_type!r} in {where}'
                f'{_suggest(strategy_type, names)}; registered strategies: '
                f'{", ".join(names)}')
        name = strategy_type
    else:
        strategy_cls = strategy_type
        name = getattr(strategy_type, '__name__', repr(strategy_type))

    check_options(strategy_cls, cfg, f'{name} ({where})')
    for key in getattr(strategy_cls, 'sub_strategies', ()):
        if key in cfg:
            check_strategy_cfg(cfg[key], f'{where}.{key}', registry)
