"""Training in phases: the runner epochs of a plan, each with its phase's
learning rate, optimizer state and trainable parameters."""
from typing import List, NamedTuple, Sequence, Union

from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmengine.runner.utils import set_random_seed
from torch.utils.data import DataLoader


class EpochSpec(NamedTuple):
    """One runner epoch of a cycle's plan."""
    phase: str  # 'label', 'min' or 'max'
    lr_factor: float


class PhasedTrainLoop(BaseLoop):
    """The epochs of one plan (:meth:`build_plan`), each run by the method
    of its phase (``run_<phase>_epoch``) -> :meth:`run_iter` ->
    :meth:`train_step`, between mmengine's epoch and iteration hook points.

    The base of :class:`ActiveLearningLoop`, which runs the plan once per
    cycle (``epoch_in_cycle`` is the position in it); abstract (``run``).

    The loop owns the learning rate (the config's ``param_scheduler`` must be
    empty): ``lr = base_lr * lr_factor`` per epoch, with an optional linear
    warm-up restarted at every phase.  Each phase starts with fresh optimizer
    state (momentum) and trains only its parameters (:meth:`trainable`);
    parameters frozen by the config (e.g. ``frozen_stages``) stay frozen.
    Every epoch is re-seeded with ``seed + epoch index``, so a run resumed
    at an epoch boundary continues as the uninterrupted one would.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader): The train dataloader (config).
        epochs (int): Label-training epochs of the plan. Defaults to 12.
        lr_decay_epochs (Sequence[int]): Epoch indices (within the plan)
            from which the lr is multiplied by ``lr_decay``. Defaults to ().
        lr_decay (float): Decay factor. Defaults to 0.1.
        warmup_iters (int): Linear warm-up iterations, restarted at the start
            of every phase. Defaults to 0.
        warmup_ratio (float): Warm-up start factor. Defaults to 0.001.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, dict],
                 epochs: int = 12,
                 lr_decay_epochs: Sequence[int] = (),
                 lr_decay: float = 0.1,
                 warmup_iters: int = 0,
                 warmup_ratio: float = 0.001) -> None:
        super().__init__(runner, dataloader)
        self.epochs = epochs
        self.lr_decay_epochs = tuple(lr_decay_epochs)
        self.lr_decay = lr_decay
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        self.plan = self.build_plan()
        self.labeled_loader = None
        self.epoch_in_cycle = 0
        self.base_lrs = None
        self._epoch = 0
        self._iter = 0
        self._phase_iter = 0
        self.stop_training = False  # a hook may set it to end the run

    def end_cycle_training(self) -> None:
        """Skip the rest of this cycle's plan: its training ends after the
        running epoch (a hook's early stop within a cycle); the cycle's
        evaluation and selection follow as usual."""
        self.epoch_in_cycle = len(self.plan)

    # -- the plan -----------------------------------------------------------
    def build_plan(self) -> List[EpochSpec]:
        """Return the runner epochs of the plan, in order."""
        return [
            EpochSpec('label', self.lr_factor(i)) for i in range(self.epochs)
        ]

    def lr_factor(self, epoch_in_cycle: int) -> float:
        """The lr factor of epoch ``epoch_in_cycle`` (the decay steps)."""
        steps = sum(epoch_in_cycle >= e for e in self.lr_decay_epochs)
        return self.lr_decay**steps

    # -- properties mmengine's hooks and log processor read ---------------
    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    @property
    def model(self):
        """The model without its DDP wrapper."""
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def record_base_settings(self) -> None:
        """Record what every phase starts from: the base learning rates
        (once) and which parameters the config lets train."""
        if self.base_lrs is None:
            self.base_lrs = [
                g['lr'] for g in self.runner.optim_wrapper.param_groups
            ]
        self._base_trainable = {
            n: p.requires_grad
            for n, p in self.model.named_parameters()
        }

    def training_state(self) -> dict:
        """The training progress (``epoch``, ``iter``, ``base_lrs``,
        ``phase_iter``), plain types, for the subclass's ``state_dict``."""
        return dict(
            epoch=self._epoch,
            iter=self._iter,
            base_lrs=self.base_lrs,
            phase_iter=self._phase_iter)

    def load_training_state(self, state: dict) -> None:
        """Go on from :meth:`training_state`'s keys of ``state``."""
        self._epoch = state['epoch']
        self._iter = state['iter']
        self.base_lrs = state['base_lrs']
        self._phase_iter = state.get('phase_iter', 0)

    # -- epochs and iterations ----------------------------------------------
    def run_epoch(self) -> None:
        """Run the next epoch of the plan with its phase method."""
        spec = self.plan[self.epoch_in_cycle]
        set_random_seed(self.runner.seed + self.epoch_in_cycle)
        self.enter_phase(spec)
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        getattr(self, f'run_{spec.phase}_epoch')()
        self.epoch_in_cycle += 1
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_label_epoch(self) -> None:
        """One pass over the labeled loader; all parameters train."""
        self._set_sampler_epoch(self.labeled_loader)
        for idx, data_batch in enumerate(self.labeled_loader):
            self.run_iter(idx, data_batch)

    def run_iter(self, idx: int, data_batch: dict) -> None:
        """One optimizer step on one batch, between the iteration hooks."""
        self.runner.call_hook(
            'before_train_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self.train_step(data_batch)
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    def train_step(self, data_batch: dict) -> dict:
        """Forward, backward and step, with the warm-up lr applied."""
        self._apply_lr()
        self._phase_iter += 1
        return self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)

    # -- phases -------------------------------------------------------------
    def trainable(self, phase: str, name: str) -> bool:
        """Whether parameter ``name`` trains in ``phase`` (before the
        config's own freezing is applied)."""
        return True

    def enter_phase(self, spec: EpochSpec) -> None:
        """Set lr, trainable parameters and, at a phase start, optimizer
        state for the epoch ``spec`` (at ``epoch_in_cycle`` of the plan)."""
        k = self.epoch_in_cycle
        phase_start = k == 0 or self.plan[k - 1].phase != spec.phase
        for name, param in self.model.named_parameters():
            param.requires_grad_(self._base_trainable[name]
                                 and self.trainable(spec.phase, name))
        self.model.zero_grad(set_to_none=True)
        if phase_start:
            # a fresh optimizer over the phase's parameters: SGD skips
            # parameters whose grad is None (no decay, no momentum)
            self.runner.optim_wrapper.optimizer.state.clear()
            self._phase_iter = 0
        self._lr_factor_now = spec.lr_factor
        self.runner.message_hub.update_info('al_phase', spec.phase)
        self._apply_lr()

    def _apply_lr(self) -> None:
        factor = self._lr_factor_now
        if self.warmup_iters and self._phase_iter < self.warmup_iters:
            ratio = self._phase_iter / self.warmup_iters
            factor *= self.warmup_ratio + (1 - self.warmup_ratio) * ratio
        for group, base in zip(self.runner.optim_wrapper.param_groups,
                               self.base_lrs):
            group['lr'] = base * factor

    def _set_sampler_epoch(self, loader: DataLoader) -> None:
        sampler = getattr(loader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(self.epoch_in_cycle)
