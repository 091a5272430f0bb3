"""Carry the active-learning loop's progress in every checkpoint."""
from mmengine.hooks import Hook
from mmdet.registry import HOOKS

STATE_KEY = 'active_learning'


@HOOKS.register_module()
class ActiveLearningStateHook(Hook):
    """Store ``runner.train_loop.state_dict()`` in checkpoints and restore it
    on ``--resume``.

    The state (cycle, epoch within the cycle, whether the cycle was evaluated
    and its selection made, the splitter's X_L / X_U and split settings, the
    results so far) is written under ``checkpoint['active_learning']``.  It is
    restored only when the run resumes (``cfg.resume``); a plain ``load_from``
    loads weights alone.  Loops without ``state_dict`` are left alone.
    """

    priority = 'HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # checkpoints are saved while training, when Runner.train has built
        # the loop: the public property returns it (and builds a loop still
        # held as a config, as Runner.train would)
        loop = runner.train_loop
        if hasattr(loop, 'state_dict'):
            checkpoint[STATE_KEY] = loop.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner.cfg.get('resume', False) or STATE_KEY not in checkpoint:
            return
        loop = runner.train_loop
        if hasattr(loop, 'load_state_dict'):
            loop.load_state_dict(checkpoint[STATE_KEY])
