"""Write ``results.json`` after every cycle's evaluation."""
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmdet.registry import HOOKS

from al_plugin.evaluation import PER_CLASS_SUFFIX, per_class_ap
from al_plugin.work_dir import write_results


@HOOKS.register_module()
class CycleResultsHook(Hook):
    """Write the records of the evaluated cycles
    (``runner.train_loop.results``, see
    :meth:`~al_plugin.engine.loops.ActiveLearningLoop.evaluate`) to
    ``work_dir/results.json`` (rank 0, atomic) at the custom hook point
    ``after_cycle_eval`` of the active-learning loop.

    A cycle whose metrics hold per-class APs (``ClasswiseVOCMetric``,
    ``CocoMetric(classwise=True)``) gets them as ``per_class_AP`` too:
    family -> class name -> AP, every class of the evaluated set, None for
    one without ground truth (see
    :func:`~al_plugin.evaluation.per_class_ap`), e.g.
    ``{"pascal_voc/AP50": {"dog": 0.61, "cat": null}}``.

    Its priority ``NORMAL`` puts it after the early-stop hook (``HIGH``),
    whose reason the cycle's record then carries, and before the checkpoint
    hook (``LOWEST``), so that a cycle's trained checkpoint never precedes
    its results.
    """

    priority = 'NORMAL'

    def after_cycle_eval(self, runner, cycle: int, result: dict) -> None:
        metrics = result['metrics']
        if any(PER_CLASS_SUFFIX.match(k.rpartition('_')[2])
               for k in metrics):  # the evaluated set's names, in order
            meta = runner.val_evaluator.dataset_meta or {}
            table = per_class_ap(metrics, meta.get('classes', ()))
            if table:
                result['per_class_AP'] = table
        if is_main_process():
            write_results(runner.work_dir, runner.train_loop.results)
        barrier()
