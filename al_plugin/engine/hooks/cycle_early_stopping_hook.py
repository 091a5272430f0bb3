"""Stop an active-learning experiment once its metric stops changing."""
from typing import List, Optional

import numpy as np
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module()
class CycleEarlyStoppingHook(Hook):
    """Stop the experiment after a cycle's evaluation, without a further
    selection, when the metric has changed by less than ``ap_shift`` on
    average (absolute change from cycle to cycle) over the last
    ``ap_range`` cycles (the ASM design's ``ap_shift`` / ``ap_range``).

    At the custom hook point ``after_cycle_eval`` of
    :class:`~al_plugin.engine.loops.ActiveLearningLoop` it reads the
    records of the evaluated cycles (``runner.train_loop.results``, the
    last one the cycle's), and to stop it records the reason as
    ``early_stop`` in the cycle's record, logs it and sets the loop's
    ``stop_training`` flag, as mmengine's ``EarlyStoppingHook`` does; the
    loop then ends without calling ``after_cycle``. Its priority ``HIGH``
    puts it before the results hook (``NORMAL``), which writes the reason
    into ``results.json``, and the checkpoint hook (``LOWEST``), which
    writes no branch point for a cycle that stops.

    Args:
        ap_shift (float): The smallest mean absolute change that goes on.
        ap_range (int): Cycles (>= 1) the change is averaged over; the
            experiment stops at the earliest after cycle ``ap_range``.
        metric (str, optional): The metric. Defaults to None: the first
            evaluated metric whose name ends with ``mAP``.
        cfg_key (str): Where the config sets these options, for error
            messages (the loop passes ``'train_cfg.early_stop'``). Defaults
            to the class name.
    """

    priority = 'HIGH'
    OPTIONS = ('ap_shift', 'ap_range', 'metric')

    def __init__(self,
                 ap_shift: float,
                 ap_range: int,
                 metric: Optional[str] = None,
                 cfg_key: str = 'CycleEarlyStoppingHook') -> None:
        if isinstance(ap_shift, bool) or \
                not isinstance(ap_shift, (int, float)) or ap_shift < 0:
            raise ValueError(f'{cfg_key}.ap_shift must be a number >= 0, '
                             f'got {ap_shift!r}')
        if isinstance(ap_range, bool) or not isinstance(ap_range, int) or \
                ap_range < 1:
            raise ValueError(f'{cfg_key}.ap_range must be an int >= 1, got '
                             f'{ap_range!r}')
        self.ap_shift = ap_shift
        self.ap_range = ap_range
        self.metric = metric
        self.cfg_key = cfg_key

    @classmethod
    def from_options(cls, options: dict,
                     cfg_key: str) -> 'CycleEarlyStoppingHook':
        """Build the hook from a dict of :attr:`OPTIONS` set at
        ``cfg_key`` (e.g. ``train_cfg.early_stop``); an unknown or missing
        key raises an error naming ``cfg_key``."""
        unknown = set(options) - set(cls.OPTIONS)
        if unknown:
            raise KeyError(f'{cfg_key}: unknown keys {sorted(unknown)} '
                           f'(known: {", ".join(cls.OPTIONS)})')
        return cls(
            options.get('ap_shift'),
            options.get('ap_range'),
            options.get('metric'),
            cfg_key=cfg_key)

    def after_cycle_eval(self, runner, cycle: int, result: dict) -> None:
        loop = runner.train_loop
        reason = self.stop_reason(loop.results)
        if reason is None:
            return
        result['early_stop'] = reason
        loop.stop_training = True
        runner.logger.info(f'early stop after cycle {cycle}: {reason}')

    def stop_reason(self, results: List[dict]) -> Optional[str]:
        """Why the experiment stops after the last of ``results``, or None
        to go on.

        Args:
            results (list[dict]): The records of the evaluated cycles, in
                order, each with ``metrics`` (name -> value).

        Raises:
            KeyError: If the metric is not among the last ``ap_range + 1``
                cycles' numeric metrics.
        """
        if len(results) <= self.ap_range:
            return None
        metric = self.metric or next(
            (k for k in results[-1]['metrics'] if k.endswith('mAP')), None)
        values = [r['metrics'].get(metric) for r in results]
        window = values[-self.ap_range - 1:]
        if metric is None or not all(isinstance(v, float) for v in window):
            raise KeyError(
                f'{self.cfg_key}.metric: {metric!r} is not among the '
                f'evaluated metrics {sorted(results[-1]["metrics"])}')
        shift = float(np.mean(np.abs(np.diff(window))))
        if shift >= self.ap_shift:
            return None
        return (f'{metric} changed by {shift:.4f} on average over the last '
                f'{self.ap_range} cycles (< ap_shift {self.ap_shift})')
