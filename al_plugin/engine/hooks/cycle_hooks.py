"""The hooks of a cycle's side jobs, registered from the keys of the
active-learning loop's ``train_cfg``."""
from typing import Optional

from .cycle_checkpoint_hook import CycleCheckpointHook
from .cycle_early_stopping_hook import CycleEarlyStoppingHook
from .cycle_results_hook import CycleResultsHook


def register_cycle_hooks(runner,
                         early_stop: Optional[dict] = None,
                         max_keep_cycle_ckpts: Optional[int] = None,
                         max_keep_trained_ckpts: Optional[int] = None) -> None:
    """Register :class:`CycleResultsHook`, :class:`CycleCheckpointHook`
    (with the ``max_keep_*`` options set) and, with ``early_stop``,
    :class:`CycleEarlyStoppingHook` built from those ``train_cfg`` keys;
    each unless ``runner`` has one of its class already (from
    ``custom_hooks``), whose options then stand.

    Args:
        runner (Runner): The runner.
        early_stop (dict, optional): ``train_cfg.early_stop``: the
            early-stop hook's options. Defaults to None (no early stop).
        max_keep_cycle_ckpts, max_keep_trained_ckpts (int, optional): The
            checkpoint hook's options. Defaults to None (its defaults).

    Raises:
        ValueError: If a hook is in ``custom_hooks`` and its keys are set
            too (the message names them).
        KeyError | ValueError: For a bad option, naming its train_cfg key.
    """
    keep = {
        k: v
        for k, v in dict(
            max_keep_cycle_ckpts=max_keep_cycle_ckpts,
            max_keep_trained_ckpts=max_keep_trained_ckpts).items()
        if v is not None
    }
    # (class, the train_cfg keys that configure it, how to build it)
    wanted = [(CycleResultsHook, [], CycleResultsHook),
              (CycleCheckpointHook, list(keep),
               lambda: CycleCheckpointHook(**keep, cfg_key='train_cfg'))]
    if early_stop is not None:
        wanted.append((CycleEarlyStoppingHook, ['early_stop'],
                       lambda: CycleEarlyStoppingHook.from_options(
                           early_stop, 'train_cfg.early_stop')))
    hooks = []  # all built (options checked) before any is registered
    for hook_cls, keys, build in wanted:
        if not any(isinstance(h, hook_cls) for h in runner.hooks):
            hooks.append(build())
        elif keys:
            raise ValueError(
                f'train_cfg.{", train_cfg.".join(keys)}: options of the '
                f'{hook_cls.__name__} the loop registers, but custom_hooks '
                'has one already; set its options in one place')
    for hook in hooks:
        runner.register_hook(hook)
