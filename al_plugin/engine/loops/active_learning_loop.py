"""The training loop that runs a whole active-learning experiment.

``runner.train()`` with this loop as ``train_cfg`` runs every cycle: train on
the labeled set, evaluate, then call the custom hook point ``after_cycle``,
where the selection hook scores the pool and hands the chosen images to the
splitter.  It reads like mmengine's ``EpochBasedTrainLoop``: ``run`` ->
``run_cycle`` -> one ``run_<phase>_epoch`` method per phase -> ``run_iter``,
with the standard hook points at the standard places.  A cycle's side jobs
(results file, early stop, cycle checkpoints) are hooks.
"""
import copy
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import barrier, is_main_process
from mmengine.runner.utils import set_random_seed
from torch.utils.data import DataLoader
from mmdet.registry import LOOPS

from al_plugin.datasets import ActiveSubset
from al_plugin.registry import SPLITTERS
from al_plugin.utils import atomic_open
from al_plugin.work_dir import INITIAL_WEIGHTS
from ..hooks import register_cycle_hooks
from ..pseudo_labeling import cycle_training_set
from .cycle_record import CycleRecorder, summary_lines
from .phased_loop import EpochSpec, PhasedTrainLoop


@LOOPS.register_module()
class ActiveLearningLoop(PhasedTrainLoop):
    """Cycles of (re-initialise, train the plan of a
    :class:`PhasedTrainLoop` on X_L, evaluate, select), each from the same
    seed and initial weights (saved once to ``al_initial_weights.pth``), as
    in MI-AOD's reference, or with ``reset_weights=False`` from the previous
    cycle's model (warm start).

    After a cycle's evaluation the loop calls the custom hook points
    ``after_cycle_eval(cycle, result)``, then, unless a hook set
    ``stop_training``, ``after_cycle(cycle, last)``; on them, in order:
    :class:`CycleEarlyStoppingHook`, :class:`CycleResultsHook`
    (``results.json``), the selection hook (``after_cycle``),
    :class:`CycleCheckpointHook` (``trained_cycle_<c>.pth``,
    ``cycle_<c>.pth``). The loop registers these three from its own keys,
    so that a config states them with the experiment's other options, as
    MI-AOD's did (a config may list one in ``custom_hooks`` instead and
    leave its keys unset), see :func:`register_cycle_hooks`.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader): The train dataloader config. Its
            dataset is the whole pool (global index = position in it); its
            loader settings (batch size, workers, sampler, collate) are used
            for the per-cycle labeled loader.
        splitter (dict): Config of the active-dataset splitter
            (``SPLITTERS``).
        cycles (int | Sequence[int]): The cycles to run, e.g. ``[0, ..., 6]``
            or ``7``.
        X_L_repeat (int): Passes over X_L in one epoch. Defaults to 1.
        X_L_0_repeat (int, optional): Passes over X_L in one epoch of cycle
            0, where a warm-started experiment trains its first model
            longer. Defaults to ``X_L_repeat``.
        reset_weights (bool): Start every cycle from the initial weights
            (True, the reference) or fine-tune the previous cycle's model
            (False). Optimizer state and seed are reset either way.
            Defaults to True.
        max_keep_cycle_ckpts, max_keep_trained_ckpts (int, optional):
            Options of :class:`CycleCheckpointHook`. Defaults to None (2).
        early_stop (dict, optional): Options of
            :class:`CycleEarlyStoppingHook` (``ap_shift``, ``ap_range``,
            ``metric``). Defaults to None (run every cycle).
        epochs, lr_decay_epochs, lr_decay, warmup_iters, warmup_ratio: see
            :class:`PhasedTrainLoop` (epochs per cycle, 12 by default).
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 splitter: dict,
                 cycles: Union[int, Sequence[int]],
                 epochs: int = 12,
                 X_L_repeat: int = 1,
                 lr_decay_epochs: Sequence[int] = (),
                 lr_decay: float = 0.1,
                 warmup_iters: int = 0,
                 warmup_ratio: float = 0.001,
                 max_keep_cycle_ckpts: Optional[int] = None,
                 X_L_0_repeat: Optional[int] = None,
                 reset_weights: bool = True,
                 early_stop: Optional[dict] = None,
                 max_keep_trained_ckpts: Optional[int] = None) -> None:
        self._loader_cfg = copy.deepcopy(dataloader)
        super().__init__(runner, dataloader, epochs, lr_decay_epochs,
                         lr_decay, warmup_iters, warmup_ratio)
        self.pool = self.dataloader.dataset
        self.cycles = list(range(cycles)) if isinstance(cycles, int) \
            else list(cycles)
        if not self.cycles or self.cycles != list(
                range(self.cycles[0], self.cycles[0] + len(self.cycles))):
            raise ValueError(f'train_cfg.cycles must be consecutive '
                             f'integers, got {cycles}')
        self.X_L_repeat = X_L_repeat
        self.X_L_0_repeat = X_L_repeat if X_L_0_repeat is None \
            else X_L_0_repeat
        self.reset_weights = reset_weights
        register_cycle_hooks(runner, early_stop, max_keep_cycle_ckpts,
                             max_keep_trained_ckpts)

        self.splitter = SPLITTERS.build(splitter)
        self.splitter.setup(self.pool, runner.work_dir)

        # progress, all of it in state_dict() (with the base class's)
        self.cycle = self.cycles[0]
        self.evaluated = False
        self.results: List[dict] = []
        #: the selection's strategy, which the results record, and the
        #: settings of semi-supervised cycles (a ``PseudoLabeling``): given
        #: by the selection hook before the run (None without one)
        self.strategy_name: Optional[str] = None
        self.pseudo_labeling = None
        #: what the current cycle trains on (``pseudo_labeling.TrainingSet``)
        self.training_set = None
        self.recorder = CycleRecorder(self.pool, self.splitter)

    # -- properties mmengine's hooks and log processor read ---------------
    @property
    def max_epochs(self) -> int:
        return len(self.cycles) * len(self.plan)

    @property
    def max_iters(self) -> int:
        """Estimated iterations of the whole experiment (for the ETA)."""
        batch = self._loader_cfg.get('batch_size', 1) \
            if isinstance(self._loader_cfg, dict) else 1
        labeled = len(self.splitter.labeled_indices())
        left = self.cycles[-1] - self.cycle + 1
        total = self._iter
        for k in range(left):
            n = min(labeled + k * self.splitter.budget(),
                    self.splitter.pool_size)
            epochs = len(self.plan) - (self.epoch_in_cycle if k == 0 else 0)
            total += epochs * -(-n * self.repeat_of(self.cycle + k) // batch)
        return total

    def repeat_of(self, cycle: int) -> int:
        """Passes over X_L in one epoch of ``cycle``."""
        return self.X_L_0_repeat if cycle == 0 else self.X_L_repeat

    # -- run ----------------------------------------------------------------
    def run(self) -> torch.nn.Module:
        """Run every remaining cycle of the experiment."""
        if self.runner.param_schedulers:
            raise ValueError(
                'ActiveLearningLoop owns the learning rate schedule: set '
                '`param_scheduler = []` in the config')
        self.runner.call_hook('before_train')
        self.prepare()
        while self.cycle <= self.cycles[-1] and not self.stop_training:
            if self.splitter.cycle < self.cycle:
                self._stop_without_selection()
                break
            self.run_cycle()
        self.runner.call_hook('after_train')
        return self.runner.model

    def prepare(self) -> None:
        """Record what every cycle starts from: the initial weights (saved
        once, loaded on resume), the base learning rates and which
        parameters the config lets train."""
        self._prepare_initial_weights()
        self.record_base_settings()

    def _stop_without_selection(self) -> None:
        """The last cycle selected nothing: this one would train on the
        same images again, so the experiment ends here."""
        reason = ('every pool image is labeled'
                  if self.splitter.is_exhausted else
                  'no selection hook committed one')
        self.runner.logger.info(
            f'cycle {self.cycle - 1} made no selection ({reason}): the '
            f'experiment stops before cycle {self.cycle} (train_cfg.cycles '
            f'ends at {self.cycles[-1]})')

    def run_cycle(self) -> None:
        """Train, evaluate and select for ``self.cycle``."""
        cycle = self.cycle
        if self.epoch_in_cycle == 0:
            self._reset_model()
        self.build_cycle_loaders()
        self.runner.logger.info(
            self.training_set.describe(
                cycle, len(self.splitter.labeled_indices()),
                len(self.splitter.pool_indices())))
        while self.epoch_in_cycle < len(self.plan) and not self.stop_training:
            self.run_epoch()
        if not self.evaluated and not self.stop_training:
            self.evaluate()  # not when resumed after the evaluation
        if self.stop_training:
            return
        if self.splitter.cycle <= cycle:  # not selected yet
            self.runner.call_hook(
                'after_cycle', cycle=cycle, last=cycle == self.cycles[-1])
        self.cycle += 1
        self.epoch_in_cycle = 0
        self.evaluated = False

    def build_cycle_loaders(self) -> None:
        """Build the labeled loader over the cycle's training set: X_L of
        the current cycle, plus pool images with pseudo labels, as
        :attr:`pseudo_labeling` says (see
        :meth:`~al_plugin.engine.pseudo_labeling.PseudoLabeling.training_set`;
        without it, those the last selection gave)."""
        self.training_set = cycle_training_set(self.splitter, self.cycle,
                                               self.pseudo_labeling)
        self.labeled_loader = self.build_subset_loader(
            self.training_set.indices, self.repeat_of(self.cycle),
            unlabeled=False, pseudo_labels=self.training_set.pseudo_labels,
            pseudo_weight=self.training_set.weight)
        # mmengine's log processor and hooks read `train_dataloader`
        self.dataloader = self.labeled_loader

    def build_subset_loader(self,
                            indices: Sequence[int],
                            repeat: int,
                            unlabeled: bool,
                            pseudo_labels: Optional[dict] = None,
                            pseudo_weight: float = 1.0):
        """A loader of the train dataloader's settings over the pool images
        ``indices`` (global), each ``repeat`` times, as labeled or
        ``unlabeled`` samples, pseudo-labeled ones weighing
        ``pseudo_weight`` (see :class:`ActiveSubset`)."""
        cfg = copy.deepcopy(self._loader_cfg)
        cfg['dataset'] = ActiveSubset(
            self.pool,
            list(indices) * repeat,
            unlabeled=unlabeled,
            pseudo_labels=pseudo_labels,
            pseudo_weight=pseudo_weight,
            on_broken='replace')  # a missing / corrupt image: warn, go on
        return self.runner.build_dataloader(cfg, seed=self.runner.seed)

    def enter_phase(self, spec: EpochSpec) -> None:
        """Publish the cycle (``al_cycle`` in the message hub, for the log
        processor), then set the epoch's phase (see
        :meth:`PhasedTrainLoop.enter_phase`)."""
        self.runner.message_hub.update_info('al_cycle', self.cycle)
        super().enter_phase(spec)

    def evaluate(self) -> None:
        """Evaluate the cycle's model, append its record (see
        :class:`CycleRecorder`) to ``results``, log it (with the SL/AL
        ratio of semi-supervised cycles) and call ``after_cycle_eval``."""
        metrics = {}
        if self.runner.val_loop is not None:
            metrics = self.runner.val_loop.run() or {}
        self.results.append(
            self.recorder.record(self.cycle, self.strategy_name, metrics,
                                 self.training_set))
        self.evaluated = True
        for line in summary_lines(self.results[-1],
                                  self.pseudo_labeling is not None):
            self.runner.logger.info(line)
        self.runner.call_hook(
            'after_cycle_eval', cycle=self.cycle, result=self.results[-1])

    # -- weights --------------------------------------------------------------
    def _prepare_initial_weights(self) -> None:
        """Save the initial weights once (rank 0) or load them on resume."""
        path = osp.join(self.runner.work_dir, INITIAL_WEIGHTS)
        if osp.exists(path):
            self._initial_state = torch.load(
                path, map_location='cpu', weights_only=True)
            return
        if self.epoch_in_cycle or self.cycle != self.cycles[0]:
            raise FileNotFoundError(
                f'{path} is missing: it holds the weights every cycle '
                'starts from and cannot be re-created mid-experiment')
        self._initial_state = {
            k: v.detach().cpu().clone()
            for k, v in self.model.state_dict().items()
        }
        if is_main_process():
            with atomic_open(path, 'wb') as f:
                torch.save(self._initial_state, f)
        barrier()

    def _reset_model(self) -> None:
        """Start the cycle from the base seed, fresh optimizer state and the
        initial weights (or, with ``reset_weights=False`` after the first
        cycle, the previous cycle's)."""
        set_random_seed(self.runner.seed)
        if self.reset_weights or self.cycle == self.cycles[0]:
            self.model.load_state_dict(self._initial_state)
        self.runner.optim_wrapper.optimizer.state.clear()

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict:
        """Progress of the experiment, in plain types (``weights_only``)."""
        return dict(
            cycle=self.cycle,
            epoch_in_cycle=self.epoch_in_cycle,
            evaluated=self.evaluated,
            **self.training_state(),
            results=json.loads(json.dumps(self.results)),
            plan=[list(s) for s in self.plan],
            splitter=self.splitter.state_dict())

    def load_state_dict(self, state: dict) -> None:
        """Continue the experiment recorded by :meth:`state_dict`."""
        plan = [list(s) for s in self.plan]
        if state['plan'] != plan:
            raise ValueError(
                'the checkpoint was written with another cycle schedule '
                '(train_cfg epochs / epoch_ratio / lr decay): '
                f'{state["plan"]} != {plan}')
        self.splitter.load_state_dict(state['splitter'])
        self.cycle = state['cycle']
        self.epoch_in_cycle = state['epoch_in_cycle']
        self.evaluated = state['evaluated']
        self.load_training_state(state)
        self.results = state['results']
        if self.evaluated and self.splitter.cycle > self.cycle:
            # a cycle checkpoint: trained, evaluated and selected; go on
            # with the next cycle
            self.cycle += 1
            self.epoch_in_cycle = 0
            self.evaluated = False
