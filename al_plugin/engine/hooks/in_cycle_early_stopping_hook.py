"""Stop a cycle's training once a validation metric stops improving."""
from math import inf
from typing import Optional

from mmengine.hooks import EarlyStoppingHook
from mmdet.registry import HOOKS

STATE_KEY = 'in_cycle_early_stopping'


@HOOKS.register_module()
class InCycleEarlyStoppingHook(EarlyStoppingHook):
    """mmengine's ``EarlyStoppingHook`` within each cycle of an
    active-learning loop: validate every ``interval`` epochs of a cycle's
    training, and end that training (not the experiment) when ``monitor``
    has not improved for ``patience`` validations; the cycle is then
    evaluated, selects, and the next cycle trains with a fresh patience.

    mmengine's hook does not fit the loop as it is: the loop validates once
    a cycle, after training, so the hook never sees a validation inside a
    cycle; it counts its patience across cycles; and its
    ``stop_training`` flag ends the whole experiment, without selection.
    This subclass keeps its rule (``rule``, ``min_delta``, ``patience``,
    ``stopping_threshold``, ``check_finite``), runs the validations itself
    (``runner.val_loop``, at ``after_train_epoch``; none after a cycle's
    last epoch, which the cycle's evaluation follows), ignores the cycle's
    own evaluation, and ends the cycle's training by moving the loop to the
    end of the cycle's plan (``epoch_in_cycle``). The model the cycle
    evaluates is the last one trained, as in mmengine.

    The cycle's record in ``results.json`` says why
    (``in_cycle_early_stop``: epochs trained, of how many, and the rule's
    message); checkpoints carry the cycle's best score and wait count, so
    ``--resume`` goes on with them. Its priority ``ABOVE_NORMAL`` puts it
    before the checkpoint hooks (an epoch checkpoint then records the
    stopped cycle) and before :class:`CycleResultsHook`.

    Args:
        monitor (str): The validation metric, e.g. ``'pascal_voc/mAP'``.
        interval (int): Validate after every ``interval``-th epoch of a
            cycle's plan. Defaults to 1.
        rule (str): ``'greater'`` (better when higher, as every AP) or
            ``'less'``. Defaults to ``'greater'``.
        min_delta (float): The smallest change that counts as an
            improvement (mmdet's APs are in [0, 1]; mmengine's default
            0.1 is ten AP points). Defaults to 0.001.
        patience (int): Validations without improvement that end the
            cycle's training. Defaults to 3.
        stopping_threshold (float, optional): End it once ``monitor`` is
            better than this. Defaults to None.
        check_finite (bool): End it when ``monitor`` is NaN or infinite.
            Defaults to True.

    Example::

        custom_hooks = [..., dict(type='InCycleEarlyStoppingHook',
                                  monitor='pascal_voc/mAP', patience=2)]
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 monitor: str,
                 interval: int = 1,
                 rule: str = 'greater',
                 min_delta: float = 0.001,
                 patience: int = 3,
                 stopping_threshold: Optional[float] = None,
                 check_finite: bool = True) -> None:
        for key, value in (('interval', interval), ('patience', patience)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 1:
                raise ValueError(f'InCycleEarlyStoppingHook.{key} must be '
                                 f'an int >= 1, got {value!r}')
        super().__init__(
            monitor, rule=rule, min_delta=min_delta, strict=True,
            check_finite=check_finite, patience=patience,
            stopping_threshold=stopping_threshold)
        self.interval = interval
        self.cycle: Optional[int] = None  # the cycle the state belongs to
        self.stopped: Optional[str] = None  # why the cycle's training ended

    def reset(self, cycle: int) -> None:
        """Start the patience afresh for ``cycle``."""
        self.cycle = cycle
        self.wait_count = 0
        self.best_score = -inf if self.rule == 'greater' else inf
        self.stopped = None

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not all(hasattr(loop, k) for k in ('cycle', 'plan',
                                              'end_cycle_training')):
            raise TypeError(
                'InCycleEarlyStoppingHook needs an active-learning loop '
                '(train_cfg type ActiveLearningLoop or a subclass), got '
                f'{type(loop).__name__}')
        if runner.val_loop is None:
            raise ValueError('InCycleEarlyStoppingHook validates within '
                             'cycles: set val_dataloader, val_evaluator and '
                             'val_cfg')

    def after_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        if self.cycle != loop.cycle:
            self.reset(loop.cycle)
        done, total = loop.epoch_in_cycle, len(loop.plan)
        if done % self.interval or done >= total:
            return
        metrics = runner.val_loop.run()
        if self.monitor not in metrics:
            raise KeyError(
                f'InCycleEarlyStoppingHook.monitor: {self.monitor!r} is not '
                f'among the validation metrics {sorted(metrics)}')
        stop, message = self._check_stop_condition(metrics[self.monitor])
        if stop:
            self.stopped = f'after epoch {done} of {total}: ' + \
                message.strip()
            loop.end_cycle_training()
            runner.logger.info(f'cycle {loop.cycle}: training stops early '
                               f'{self.stopped}')

    def after_val_epoch(self, runner, metrics: dict) -> None:
        """Nothing: the hook decides on its own validations, not on the
        cycle's evaluation (mmengine's would end the experiment)."""

    def after_cycle_eval(self, runner, cycle: int, result: dict) -> None:
        if self.cycle == cycle and self.stopped is not None:
            result['in_cycle_early_stop'] = self.stopped

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = dict(
            cycle=self.cycle, best_score=float(self.best_score),
            wait_count=self.wait_count, stopped=self.stopped)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner.cfg.get('resume', False) and STATE_KEY in checkpoint:
            state = checkpoint[STATE_KEY]
            self.cycle, self.best_score = state['cycle'], state['best_score']
            self.wait_count, self.stopped = (state['wait_count'],
                                             state['stopped'])
