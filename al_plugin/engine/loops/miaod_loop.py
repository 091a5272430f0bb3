"""MI-AOD's dual labeled / unlabeled training loop."""
import itertools
from typing import List, Sequence

from mmdet.registry import LOOPS

from .active_learning_loop import ActiveLearningLoop
from .phased_loop import EpochSpec


def miaod_phases(rounds: int, epoch_ratio: Sequence[int]) -> List[str]:
    """The phase of every runner epoch of one MI-AOD cycle.

    Args:
        rounds (int): Rounds of (min, max, label) after the first label
            block (the reference's ``epoch``).
        epoch_ratio (Sequence[int]): ``[label epochs, min/max epochs]``.

    Returns:
        list[str]: e.g. for ``2, [3, 1]``: label x3, then twice
        (min, max, label x3): 13 entries.
    """
    label, minmax = epoch_ratio
    phases = ['label'] * label
    for _ in range(rounds):
        phases += ['min'] * minmax + ['max'] * minmax + ['label'] * label
    return phases


@LOOPS.register_module()
class MIAODTrainLoop(ActiveLearningLoop):
    """The cycle schedule of MI-AOD (keys as in the reference config).

    One cycle, with ``epoch=2, epoch_ratio=[3, 1]``::

        label x3 | min x1, max x1, label x3 | min x1, max x1, label x3
                   `------- round 0 ------'   `------- round 1 ------'

    13 runner epochs; the lr is multiplied by ``lr_decay`` for the last one.

    - ``label``: the labeled loader alone, every parameter trains.
    - ``min`` (minimise instance uncertainty): everything but the two
      adversarial classifiers f1/f2 trains; the discrepancy's gradient flows
      through the frozen f1/f2 into the neck and backbone.
    - ``max`` (maximise instance uncertainty): only f1/f2 train.

    In the min/max phases iterations follow the labeled loader; each labeled
    batch is followed by one unlabeled batch (the unlabeled loader restarts
    when it runs dry), each with its own forward, backward and step.

    Args:
        epoch (int): Rounds of (min, max, label) after the first label
            block; named ``epoch`` as in the reference's config, kept as
            the attribute ``rounds`` (a runner epoch is one entry of the
            plan). Defaults to 2.
        epoch_ratio (Sequence[int]): ``[label epochs, min/max epochs]`` per
            block. Defaults to ``[3, 1]``.
        X_U_repeat (int): Passes over X_U in one epoch. Defaults to 2.
        X_L_repeat (int): Passes over X_L in one epoch. Defaults to 2.
        lr_decay_epochs (Sequence[int] | None): None = the last epoch.
        **kwargs: see :class:`ActiveLearningLoop`.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 splitter: dict,
                 cycles,
                 epoch: int = 2,
                 epoch_ratio: Sequence[int] = (3, 1),
                 X_L_repeat: int = 2,
                 X_U_repeat: int = 2,
                 lr_decay_epochs=None,
                 **kwargs) -> None:
        self.rounds = epoch
        self.epoch_ratio = tuple(epoch_ratio)
        self.X_U_repeat = X_U_repeat
        if lr_decay_epochs is None:
            lr_decay_epochs = (self.num_plan_epochs() - 1, )
        super().__init__(
            runner,
            dataloader,
            splitter,
            cycles,
            epochs=self.num_plan_epochs(),
            X_L_repeat=X_L_repeat,
            lr_decay_epochs=lr_decay_epochs,
            **kwargs)
        self.unlabeled_loader = None

    def num_plan_epochs(self) -> int:
        """Runner epochs of one cycle."""
        return len(miaod_phases(self.rounds, self.epoch_ratio))

    def build_plan(self) -> List[EpochSpec]:
        phases = miaod_phases(self.rounds, self.epoch_ratio)
        return [
            EpochSpec(phase, self.lr_factor(i))
            for i, phase in enumerate(phases)
        ]

    def build_cycle_loaders(self) -> None:
        super().build_cycle_loaders()
        self.unlabeled_loader = self.build_subset_loader(
            self.splitter.unlabeled_indices(), self.X_U_repeat,
            unlabeled=True)

    def trainable(self, phase: str, name: str) -> bool:
        if phase == 'label':
            return True
        adversarial = name in self._adversarial_names
        return adversarial if phase == 'max' else not adversarial

    def prepare(self) -> None:
        super().prepare()
        self._adversarial_names = {
            n
            for n, _ in self.model.adversarial_parameters()
        }

    def run_min_epoch(self) -> None:
        """Labeled step, then unlabeled step minimising the discrepancy."""
        self._run_dual_epoch('min')

    def run_max_epoch(self) -> None:
        """Labeled step, then unlabeled step maximising the discrepancy."""
        self._run_dual_epoch('max')

    def _run_dual_epoch(self, step: str) -> None:
        """Each labeled batch paired with the next unlabeled one, whose
        step (``'min'`` / ``'max'``) the model takes."""
        self.model.set_unlabeled_step(step)
        self._set_sampler_epoch(self.labeled_loader)
        self._set_sampler_epoch(self.unlabeled_loader)
        unlabeled = itertools.chain.from_iterable(
            itertools.repeat(self.unlabeled_loader))
        for idx, labeled_batch in enumerate(self.labeled_loader):
            self.run_iter(idx, (labeled_batch, next(unlabeled)))

    def train_step(self, data_batch) -> dict:
        """One step, or a labeled then an unlabeled step for a pair."""
        if not isinstance(data_batch, tuple):
            return super().train_step(data_batch)
        labeled_batch, unlabeled_batch = data_batch
        outputs = super().train_step(labeled_batch)
        unlabeled_outputs = super().train_step(unlabeled_batch)
        outputs.update(
            {f'u_{k}': v
             for k, v in unlabeled_outputs.items() if k != 'loss'})
        outputs['u_loss'] = unlabeled_outputs['loss']
        return outputs
