"""Log lines that say which cycle and phase they belong to."""
from mmengine.runner import LogProcessor
from mmdet.registry import LOG_PROCESSORS


@LOG_PROCESSORS.register_module()
class ActiveLearningLogProcessor(LogProcessor):
    """mmengine's ``LogProcessor`` with ``[cycle c | phase]`` in front of
    every training log line (the loop publishes both in the message hub as
    ``al_cycle`` / ``al_phase``)."""

    def get_log_after_iter(self, runner, batch_idx: int, mode: str):
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        cycle = runner.message_hub.get_info('al_cycle')
        if mode == 'train' and cycle is not None:
            phase = runner.message_hub.get_info('al_phase')
            log_str = f'[cycle {cycle} | {phase}] {log_str}'
        return tag, log_str
