"""A cycle's checkpoints: its trained model (a branch point) and its state
after the selection (what ``--resume`` goes on from)."""
import re

from mmengine.dist import barrier, is_main_process
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmdet.registry import HOOKS

from al_plugin.work_dir import CYCLE_CKPT, TRAINED_CKPT
from ..checkpoint_io import prune_checkpoints, write_last_checkpoint


def checkpoint_regex(name: str) -> str:
    """The regular expression of the files the template ``name`` (e.g.
    :data:`al_plugin.work_dir.CYCLE_CKPT`) names, its one group the
    cycle."""
    return re.escape(name).replace(r'\{cycle\}', r'(\d+)')


@HOOKS.register_module()
class CycleCheckpointHook(Hook):
    """Save a cycle's checkpoints at the custom hook points of
    :class:`~al_plugin.engine.loops.ActiveLearningLoop`, keeping the newest.

    - ``after_cycle_eval``: ``trained_cycle_<c>.pth``, the cycle's trained
      and evaluated model with X_L of cycle ``c``, before any selection hook
      ran. ``last_checkpoint`` never names it; ``--resume <it>`` in a new
      work dir (see :func:`al_plugin.engine.branching.branch_experiment`)
      selects from that model with the new run's strategy and goes on, so
      that several strategies pick from the same model. A cycle that stops
      the experiment (the loop's ``stop_training``, set by an early-stop
      hook) and a cycle whose selection is committed already have none.
    - ``after_cycle``: ``cycle_<c>.pth`` after the cycle's selection;
      ``last_checkpoint`` points to it, so that ``--resume`` never repeats
      or loses a selection.

    The priority ``LOWEST`` puts this hook after the others at both points:
    after the early-stop and results hooks, whose record the trained
    checkpoint carries, and after the selection hook (``LOW``) and the hooks
    that react to its selection.  Both files go where the
    ``CheckpointHook`` writes (its ``out_dir``, default ``work_dir``)
    through its ``backend_args`` (atomic writes, see
    :mod:`al_plugin.engine.checkpoint_io`).

    Args:
        max_keep_cycle_ckpts (int): How many ``cycle_<c>.pth`` to keep (the
            newest cycles); -1 keeps every cycle's. The one
            ``last_checkpoint`` names is never removed. Defaults to 2.
        max_keep_trained_ckpts (int): How many ``trained_cycle_<c>.pth`` to
            keep (the newest cycles); -1 keeps every cycle's, 0 writes
            none. Defaults to 2.
        cfg_key (str): Where the config sets these options, for error
            messages (the loop passes ``'train_cfg'``). Defaults to the
            class name.
    """

    priority = 'LOWEST'

    def __init__(self,
                 max_keep_cycle_ckpts: int = 2,
                 max_keep_trained_ckpts: int = 2,
                 cfg_key: str = 'CycleCheckpointHook') -> None:
        if not isinstance(max_keep_cycle_ckpts, int) or \
                max_keep_cycle_ckpts == 0 or max_keep_cycle_ckpts < -1:
            raise ValueError(f'{cfg_key}.max_keep_cycle_ckpts must be >= 1 '
                             f'(or -1 to keep all), got '
                             f'{max_keep_cycle_ckpts!r}')
        if not isinstance(max_keep_trained_ckpts, int) or \
                max_keep_trained_ckpts < -1:
            raise ValueError(f'{cfg_key}.max_keep_trained_ckpts must be an '
                             'int >= -1 (-1 keeps all, 0 writes none), got '
                             f'{max_keep_trained_ckpts!r}')
        self.max_keep_cycle_ckpts = max_keep_cycle_ckpts
        self.max_keep_trained_ckpts = max_keep_trained_ckpts

    def after_cycle_eval(self, runner, cycle: int, result: dict) -> None:
        loop = runner.train_loop
        if self.max_keep_trained_ckpts and not loop.stop_training and \
                loop.splitter.cycle <= cycle:
            self.save(runner, TRAINED_CKPT, cycle,
                      self.max_keep_trained_ckpts, make_last=False)

    def after_cycle(self, runner, cycle: int, last: bool = False) -> None:
        self.save(runner, CYCLE_CKPT, cycle, self.max_keep_cycle_ckpts,
                  make_last=True)

    def save(self, runner, name: str, cycle: int, keep: int,
             make_last: bool) -> None:
        """Save ``name.format(cycle=cycle)`` where the ``CheckpointHook``
        writes, through its ``backend_args``; point ``last_checkpoint`` at
        it if ``make_last``; keep the ``keep`` newest cycles' files of that
        name.

        Args:
            runner (Runner): The runner.
            name (str): ``CYCLE_CKPT`` or ``TRAINED_CKPT``.
            cycle (int): The cycle.
            keep (int): Files of that name to keep (-1: all).
            make_last (bool): Whether ``last_checkpoint`` names it.
        """
        filename = name.format(cycle=cycle)
        hook = next(
            (h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        out_dir = getattr(hook, 'out_dir', None) or runner.work_dir
        backend_args = getattr(hook, 'backend_args', None)
        loop = runner.train_loop
        runner.save_checkpoint(
            out_dir,
            filename,
            meta=dict(epoch=loop.epoch, iter=loop.iter),
            backend_args=backend_args)
        if is_main_process():
            backend = get_file_backend(out_dir, backend_args=backend_args)
            path = backend.join_path(out_dir, filename)
            if make_last:
                write_last_checkpoint(runner.work_dir, path)
            prune_checkpoints(
                out_dir,
                checkpoint_regex(name),
                keep,
                protect=path,
                backend=backend)
        barrier()
