"""Test-only hooks for the fault-tolerance and distributed-scoring tests.

Loaded through ``custom_imports=['al_plugin', 'tests.al_probes']`` (see
``tests/configs/miaod_digits_tiny_probes.py``); the package never imports
this module and the hooks change nothing in a run unless told to kill it.

- :class:`KillProbeHook` sends SIGKILL to its own process at one precise
  point of an experiment, once per work dir.
- :class:`ScoringProbeHook` records, per rank, the batches of the pool
  scoring and the scores of the whole pool (``scoring_rank<r>.json``); the
  scores come from :class:`RecordingUncertaintyStrategy`, MI-AOD's
  selection that keeps them.

Pool scoring is recognised as a backbone forward in eval mode outside the
validation loop: the selection hook scores the pool inside ``after_cycle``
with the model in eval mode; training runs in train mode and evaluation
between ``before_val`` and ``after_val``.
"""
import json
import os
import os.path as osp
import signal
from typing import Optional

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS

from al_plugin.registry import STRATEGIES
from al_plugin.strategies import InstanceUncertaintyStrategy

KILL_MARKER = 'killed.json'


class _PoolScoringWatcher(Hook):
    """Calls :meth:`on_pool_batch` before each batch of the pool scoring."""

    def before_run(self, runner) -> None:
        self._in_val = False
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model

        def pre_hook(module, args):
            if not module.training and not self._in_val:
                self.on_pool_batch(runner, int(args[0].shape[0]))

        model.backbone.register_forward_pre_hook(pre_hook)

    def before_val(self, runner) -> None:
        self._in_val = True

    def after_val(self, runner) -> None:
        self._in_val = False

    def on_pool_batch(self, runner, batch_size: int) -> None:
        """A pool batch of ``batch_size`` images is about to be scored."""


@HOOKS.register_module()
class KillProbeHook(_PoolScoringWatcher):
    """SIGKILL this process at ``point`` of cycle ``cycle``.

    Before killing, it writes ``work_dir/killed.json`` (where it killed);
    when that file exists it does nothing, so the same command with
    ``--resume`` runs to the end.

    Args:
        point (str, optional): None (never), or one of

            - ``'train_iter'``: after ``after`` iterations of the cycle's
              epoch ``epoch`` (0-based, within the cycle);
            - ``'cycle_start'``: before the cycle's first epoch, i.e. after
              the previous cycle's checkpoint;
            - ``'scoring'``: in the cycle's pool scoring, once ``after``
              batches are scored;
            - ``'after_cycle'``: at the end of ``after_cycle``. The hook's
              priority is ``LOWEST``, so the selection hook (``LOW``) has
              committed the selection and the cycle checkpoint is not
              written yet.
        cycle (int): The cycle. Defaults to 0.
        epoch (int): For ``'train_iter'``. Defaults to 0.
        after (int): Iterations (``'train_iter'``) or scored batches
            (``'scoring'``). Defaults to 1.
    """

    priority = 'LOWEST'
    POINTS = ('train_iter', 'cycle_start', 'scoring', 'after_cycle')

    def __init__(self,
                 point: Optional[str] = None,
                 cycle: int = 0,
                 epoch: int = 0,
                 after: int = 1) -> None:
        if point is not None and point not in self.POINTS:
            raise ValueError(f'KillProbeHook.point={point!r} is not one of '
                             f'{self.POINTS}')
        self.point = point
        self.cycle = cycle
        self.epoch = epoch
        self.after = after
        self._scored = 0

    def before_run(self, runner) -> None:
        marker = osp.join(runner.work_dir, KILL_MARKER)
        if osp.exists(marker):
            self.point = None  # killed once already: let the resume run
        super().before_run(runner)

    def _at(self, runner, point: str) -> bool:
        return self.point == point and runner.train_loop.cycle == self.cycle

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        loop = runner.train_loop
        if self._at(runner, 'train_iter') and \
                loop.epoch_in_cycle == self.epoch and \
                batch_idx + 1 == self.after:
            self._kill(runner, epoch=self.epoch, iters=self.after)

    def before_train_epoch(self, runner) -> None:
        if self._at(runner, 'cycle_start') and \
                runner.train_loop.epoch_in_cycle == 0:
            self._kill(runner)

    def on_pool_batch(self, runner, batch_size: int) -> None:
        if not self._at(runner, 'scoring'):
            return
        if self._scored == self.after:
            self._kill(runner, scored_batches=self._scored)
        self._scored += 1

    def after_cycle(self, runner, cycle: int, last: bool = False) -> None:
        if self._at(runner, 'after_cycle'):
            self._kill(runner)

    def _kill(self, runner, **where) -> None:
        record = dict(point=self.point, cycle=self.cycle, **where)
        with open(osp.join(runner.work_dir, KILL_MARKER), 'w') as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        runner.logger.info(f'KillProbeHook: SIGKILL at {record}')
        os.kill(os.getpid(), signal.SIGKILL)


@STRATEGIES.register_module()
class RecordingUncertaintyStrategy(InstanceUncertaintyStrategy):
    """:class:`InstanceUncertaintyStrategy` that keeps the last scores of the
    whole pool in ``last_scores`` (``(N,)``, pool order)."""

    last_scores = None

    def score(self, outputs):
        self.last_scores = super().score(outputs)
        return self.last_scores


@HOOKS.register_module()
class ScoringProbeHook(_PoolScoringWatcher):
    """Record the pool scoring of each cycle on each rank.

    Writes ``work_dir/scoring_rank<r>.json`` after every cycle: ``{"rank",
    "world_size", "batches": {"<cycle>": [batch sizes]}, "scores":
    {"<cycle>": [the strategy's score of every pool image, pool order]}}``
    (scores if the selection hook's strategy keeps ``last_scores``).  Its
    priority is ``LOWEST``: it runs after the selection hook.
    """

    priority = 'LOWEST'

    def before_run(self, runner) -> None:
        self.batches = {}
        self.scores = {}
        super().before_run(runner)

    def on_pool_batch(self, runner, batch_size: int) -> None:
        cycle = str(runner.train_loop.cycle)
        self.batches.setdefault(cycle, []).append(batch_size)

    def after_cycle(self, runner, cycle: int, last: bool = False) -> None:
        for hook in runner.hooks:
            scores = getattr(getattr(hook, 'strategy', None), 'last_scores',
                             None)
            if scores is not None:
                self.scores[str(cycle)] = [float(s) for s in scores]
                hook.strategy.last_scores = None
        rank, world_size = get_dist_info()
        path = osp.join(runner.work_dir, f'scoring_rank{rank}.json')
        with open(path, 'w') as f:
            json.dump(
                dict(
                    rank=rank,
                    world_size=world_size,
                    batches=self.batches,
                    scores=self.scores), f)
