"""Write ``results.json`` after every cycle's evaluation."""
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmdet.registry import HOOKS

from al_plugin.work_dir import write_results


@HOOKS.register_module()
class CycleResultsHook(Hook):
    """Write the records of the evaluated cycles
    (``runner.train_loop.results``, see
    :meth:`~al_plugin.engine.loops.ActiveLearningLoop.evaluate`) to
    ``work_dir/results.json`` (rank 0, atomic) at the custom hook point
    ``after_cycle_eval`` of the active-learning loop.

    Its priority ``NORMAL`` puts it after the early-stop hook (``HIGH``),
    whose reason the cycle's record then carries, and before the checkpoint
    hook (``LOWEST``), so that a cycle's trained checkpoint never precedes
    its results.
    """

    priority = 'NORMAL'

    def after_cycle_eval(self, runner, cycle: int, result: dict) -> None:
        if is_main_process():
            write_results(runner.work_dir, runner.train_loop.results)
        barrier()
