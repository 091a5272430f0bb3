"""The training loop that runs a whole active-learning experiment.

``runner.train()`` with this loop as ``train_cfg`` runs every cycle: train on
the labeled set, evaluate, then call the custom hook point ``after_cycle``,
where the selection hook scores the pool and hands the chosen images to the
splitter.  It reads like mmengine's ``EpochBasedTrainLoop``: ``run`` ->
``run_cycle`` -> one ``run_<phase>_epoch`` method per phase -> ``run_iter``,
with the standard hook points at the standard places.
"""
import copy
import json
import os
import os.path as osp
import re
import shutil
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import barrier, is_main_process
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmengine.runner.utils import set_random_seed
from torch.utils.data import DataLoader
from mmdet.registry import LOOPS

from al_plugin.analysis import count_boxes
from al_plugin.datasets import ActiveSubset
from al_plugin.registry import SPLITTERS
from al_plugin.utils import atomic_open, atomic_write_json, to_float
from ..checkpoint_io import prune_checkpoints, write_last_checkpoint

INITIAL_WEIGHTS = 'al_initial_weights.pth'
RESULTS_FILE = 'results.json'
#: checkpoint after a cycle's selection (``last_checkpoint`` names it)
CYCLE_CKPT = 'cycle_{cycle}.pth'
#: checkpoint of a cycle's trained model, before its selection
TRAINED_CKPT = 'trained_cycle_{cycle}.pth'


def checkpoint_regex(name: str) -> str:
    """The regular expression of the files ``name`` (e.g. ``CYCLE_CKPT``)
    names, its one group the cycle."""
    return re.escape(name).replace(r'\{cycle\}', r'(\d+)')


class EpochSpec(NamedTuple):
    """One runner epoch of a cycle's plan."""
    phase: str  # 'label', 'min' or 'max'
    lr_factor: float


@LOOPS.register_module()
class ActiveLearningLoop(BaseLoop):
    """Cycles of (re-initialise, train on X_L, evaluate, select).

    Every cycle starts from the same initial weights (saved once to
    ``work_dir/al_initial_weights.pth``), as in MI-AOD's reference, or with
    ``reset_weights=False`` from the previous cycle's model (warm start), and
    from the same random seed, so a
    cycle is reproducible from its start; every epoch is re-seeded with
    ``seed + epoch index``, so a run resumed at an epoch boundary continues
    as the uninterrupted one would.

    The loop owns the learning rate (the config's ``param_scheduler`` must be
    empty): ``lr = base_lr * lr_factor`` per epoch, with an optional linear
    warm-up restarted at every phase.  Each phase starts with fresh optimizer
    state (momentum) and trains only its parameters; parameters frozen by the
    config (e.g. ``frozen_stages``) stay frozen.

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
        epochs (int): Label-training epochs per cycle. Defaults to 12.
        X_L_repeat (int): Passes over X_L in one epoch. Defaults to 1.
        X_L_0_repeat (int, optional): Passes over X_L in one epoch of cycle
            0, where a warm-started experiment trains its first model
            longer. Defaults to ``X_L_repeat``.
        reset_weights (bool): Start every cycle from the initial weights
            (True, the reference) or fine-tune the previous cycle's model
            (False). Optimizer state and seed are reset either way.
            Defaults to True.
        lr_decay_epochs (Sequence[int]): Epoch indices (within a cycle) from
            which the lr is multiplied by ``lr_decay``. Defaults to ().
        lr_decay (float): Decay factor. Defaults to 0.1.
        warmup_iters (int): Linear warm-up iterations, restarted at the start
            of every phase. Defaults to 0.
        warmup_ratio (float): Warm-up start factor. Defaults to 0.001.
        max_keep_cycle_ckpts (int): How many ``cycle_<c>.pth`` to keep (the
            newest cycles); -1 keeps every cycle's. The one
            ``last_checkpoint`` names is never removed. Defaults to 2.
        max_keep_trained_ckpts (int): How many ``trained_cycle_<c>.pth`` to
            keep (the newest cycles); -1 keeps every cycle's, 0 writes
            none. Defaults to 2.
        early_stop (dict, optional): Stop the experiment, without a further
            selection, when the metric has changed by less than
            ``ap_shift`` on average (absolute change from cycle to cycle)
            over the last ``ap_range`` cycles (the ASM design's
            ``ap_shift`` / ``ap_range``). Keys: ``ap_shift`` (float),
            ``ap_range`` (int >= 1), ``metric`` (default: the first
            evaluated metric whose name ends with ``mAP``). The reason is
            logged and recorded as ``early_stop`` in ``results.json``'s last
            entry. Defaults to None (run every cycle).

    Checkpoints: ``CheckpointHook`` saves every epoch (``epoch_<n>.pth``);
    after each cycle's selection the loop saves ``cycle_<c>.pth`` and points
    ``last_checkpoint`` at it, so that ``--resume`` never repeats or loses a
    selection.  Between a cycle's evaluation and its selection it saves
    ``trained_cycle_<c>.pth``: the cycle's trained model with X_L of cycle
    ``c``, before any selection hook ran. ``last_checkpoint`` never names
    it; ``--resume <it>`` in a new work dir (see :func:`branch_experiment`)
    selects from that model with the new run's strategy and goes on, so
    that several strategies pick from the same model.  Both go where the
    ``CheckpointHook`` writes (its ``out_dir``, default ``work_dir``)
    through its ``backend_args`` (atomic writes, see
    :mod:`al_plugin.engine.checkpoint_io`).

    ``results.json`` holds one record per evaluated cycle: ``cycle``,
    ``num_labeled`` (|X_L|), ``num_labeled_boxes`` (the annotation cost of
    X_L in boxes: every annotated box of its images, ignored ones included),
    ``num_labeled_ignored_boxes`` (those of them flagged ``ignore_flag``,
    VOC ``difficult`` / COCO ``iscrowd``, which an annotator draws but
    training and evaluation leave out), ``num_pseudo_labeled`` (pool images
    trained on with the model's boxes; their boxes are not counted),
    ``num_pool``, ``strategy`` and ``metrics``.
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
                 max_keep_cycle_ckpts: int = 2,
                 X_L_0_repeat: Optional[int] = None,
                 reset_weights: bool = True,
                 early_stop: Optional[dict] = None,
                 max_keep_trained_ckpts: int = 2) -> None:
        self._loader_cfg = copy.deepcopy(dataloader)
        super().__init__(runner, dataloader)
        self.pool = self.dataloader.dataset
        self.cycles = list(range(cycles)) if isinstance(cycles, int) \
            else list(cycles)
        if not self.cycles or self.cycles != list(
                range(self.cycles[0], self.cycles[0] + len(self.cycles))):
            raise ValueError(f'train_cfg.cycles must be consecutive '
                             f'integers, got {cycles}')
        self.epochs = epochs
        self.X_L_repeat = X_L_repeat
        self.X_L_0_repeat = X_L_repeat if X_L_0_repeat is None \
            else X_L_0_repeat
        self.reset_weights = reset_weights
        self.early_stop = _check_early_stop(early_stop)
        self.lr_decay_epochs = tuple(lr_decay_epochs)
        self.lr_decay = lr_decay
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        if max_keep_cycle_ckpts == 0:
            raise ValueError('train_cfg.max_keep_cycle_ckpts must be >= 1 '
                             '(or -1 to keep all), got 0')
        self.max_keep_cycle_ckpts = max_keep_cycle_ckpts
        if not isinstance(max_keep_trained_ckpts, int) or \
                max_keep_trained_ckpts < -1:
            raise ValueError('train_cfg.max_keep_trained_ckpts must be an '
                             'int >= -1 (-1 keeps all, 0 writes none), got '
                             f'{max_keep_trained_ckpts!r}')
        self.max_keep_trained_ckpts = max_keep_trained_ckpts
        self.plan = self.build_plan()

        self.splitter = SPLITTERS.build(splitter)
        self.splitter.setup(self.pool, runner.work_dir)

        # progress, all of it in state_dict()
        self.cycle = self.cycles[0]
        self.epoch_in_cycle = 0
        self.evaluated = False
        self.results: List[dict] = []
        self.base_lrs: Optional[List[float]] = None
        self._epoch = 0
        self._iter = 0
        self.stop_training = False

        self.labeled_loader: Optional[DataLoader] = None
        self._phase_iter = 0
        self._own_strategy = None  # see load_state_dict
        # per pool image: (boxes, ignored boxes among them), -1 until
        # counted
        self._box_counts = np.full((self.splitter.pool_size, 2), -1,
                                   dtype=np.int64)

    # -- the plan ---------------------------------------------------------
    def build_plan(self) -> List[EpochSpec]:
        """Return the runner epochs of one cycle, in order."""
        return [
            EpochSpec('label', self._lr_factor(i)) for i in range(self.epochs)
        ]

    def _lr_factor(self, epoch_in_cycle: int) -> float:
        steps = sum(epoch_in_cycle >= e for e in self.lr_decay_epochs)
        return self.lr_decay**steps

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
        if self._own_strategy is not None:
            self.runner.message_hub.update_info('al_strategy',
                                                self._own_strategy)
        if self.base_lrs is None:
            self.base_lrs = [
                g['lr'] for g in self.runner.optim_wrapper.param_groups
            ]
        self._base_trainable = {
            n: p.requires_grad
            for n, p in self.model.named_parameters()
        }

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
        num_pseudo = len(self.splitter.pseudo_labels())
        self.runner.logger.info(
            f'cycle {cycle}: {len(self.splitter.labeled_indices())} labeled'
            + (f' + {num_pseudo} pseudo-labeled' if num_pseudo else '') +
            f', {len(self.splitter.pool_indices())} in the pool')
        while self.epoch_in_cycle < len(self.plan) and not self.stop_training:
            self.run_epoch()
        if self.stop_training:
            return
        trained_now = not self.evaluated  # not resumed after evaluation
        if trained_now:
            self.evaluate()
        if 'early_stop' in self.results[-1]:
            self.stop_training = True
            return
        if self.splitter.cycle <= cycle:  # not selected yet
            if trained_now:
                self._save_trained_checkpoint()
            self.runner.call_hook(
                'after_cycle', cycle=cycle, last=cycle == self.cycles[-1])
            self._save_cycle_checkpoint()
        self.cycle += 1
        self.epoch_in_cycle = 0
        self.evaluated = False

    def build_cycle_loaders(self) -> None:
        """Build the labeled loader over X_L of the current cycle, plus the
        pool images the last selection gave pseudo labels."""
        pseudo_labels = self.splitter.pseudo_labels()
        indices = np.concatenate(
            [self.splitter.labeled_indices(),
             np.fromiter(pseudo_labels, dtype=np.int64)])
        self.labeled_loader = self._build_subset_loader(
            indices, self.repeat_of(self.cycle), unlabeled=False,
            pseudo_labels=pseudo_labels)
        # mmengine's log processor and hooks read `train_dataloader`
        self.dataloader = self.labeled_loader

    def _build_subset_loader(self, indices, repeat, unlabeled,
                             pseudo_labels=None):
        cfg = copy.deepcopy(self._loader_cfg)
        cfg['dataset'] = ActiveSubset(
            self.pool,
            list(indices) * repeat,
            unlabeled=unlabeled,
            pseudo_labels=pseudo_labels,
            on_broken='replace')  # a missing / corrupt image: warn, go on
        return self.runner.build_dataloader(cfg, seed=self.runner.seed)

    def run_epoch(self) -> None:
        """Run the next epoch of the plan with its phase method."""
        spec = self.plan[self.epoch_in_cycle]
        set_random_seed(self.runner.seed + self.epoch_in_cycle)
        self._enter_phase(spec)
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

    def evaluate(self) -> None:
        """Evaluate the cycle's model and append to ``results.json``."""
        metrics = {}
        if self.runner.val_loop is not None:
            metrics = self.runner.val_loop.run() or {}
        boxes, ignored = self.labeled_boxes()
        self.results.append(
            dict(
                cycle=self.cycle,
                num_labeled=len(self.splitter.labeled_indices()),
                num_labeled_boxes=boxes,
                num_labeled_ignored_boxes=ignored,
                num_pseudo_labeled=len(self.splitter.pseudo_labels()),
                num_pool=len(self.splitter.pool_indices()),
                strategy=self.runner.message_hub.get_info('al_strategy'),
                metrics={k: to_float(v)
                         for k, v in metrics.items()}))
        self.evaluated = True
        reason = self._early_stop_reason()
        if reason is not None:
            self.results[-1]['early_stop'] = reason
        self.runner.logger.info(
            f'cycle {self.cycle} done: {self.results[-1]["num_labeled"]} '
            f'labeled, ' + ', '.join(f'{k}: {v:.4f}' for k, v in
                                     self.results[-1]['metrics'].items()
                                     if isinstance(v, float)))
        if reason is not None:
            self.runner.logger.info(
                f'early stop after cycle {self.cycle}: {reason}')
        if is_main_process():
            atomic_write_json(
                osp.join(self.runner.work_dir, RESULTS_FILE), self.results)
        barrier()

    def labeled_boxes(self) -> Tuple[int, int]:
        """The annotation cost of X_L in boxes: all annotated boxes of its
        images, and those of them flagged ignored (VOC ``difficult``, COCO
        ``iscrowd``), as the pool's data infos list them (see
        :func:`al_plugin.analysis.count_boxes`). Pseudo labels are not
        counted."""
        labeled = self.splitter.labeled_indices()
        todo = labeled[self._box_counts[labeled, 0] < 0]
        if len(todo):
            self._box_counts[todo] = count_boxes(self.pool, todo)
        boxes, ignored = self._box_counts[labeled].sum(axis=0)
        return int(boxes), int(ignored)

    def _early_stop_reason(self) -> Optional[str]:
        """Why the experiment stops after this cycle's evaluation (see
        ``early_stop``), or None to go on."""
        if self.early_stop is None:
            return None
        ap_shift, ap_range = (self.early_stop['ap_shift'],
                              self.early_stop['ap_range'])
        if len(self.results) <= ap_range:
            return None
        metric = self.early_stop['metric'] or next(
            (k for k in self.results[-1]['metrics'] if k.endswith('mAP')),
            None)
        values = [r['metrics'].get(metric) for r in self.results]
        if metric is None or not all(
                isinstance(v, float) for v in values[-ap_range - 1:]):
            raise KeyError(
                f'train_cfg.early_stop.metric: {metric!r} is not among the '
                f'evaluated metrics {sorted(self.results[-1]["metrics"])}')
        shift = float(np.mean(np.abs(np.diff(values[-ap_range - 1:]))))
        if shift >= ap_shift:
            return None
        return (f'{metric} changed by {shift:.4f} on average over the last '
                f'{ap_range} cycles (< ap_shift {ap_shift})')

    # -- phases -------------------------------------------------------------
    def trainable(self, phase: str, name: str) -> bool:
        """Whether parameter ``name`` trains in ``phase`` (before the
        config's own freezing is applied)."""
        return True

    def _enter_phase(self, spec: EpochSpec) -> None:
        """Set lr, trainable parameters and, at a phase start, optimizer
        state for the epoch ``spec``."""
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
        self.runner.message_hub.update_info('al_cycle', self.cycle)
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

    def _save_cycle_checkpoint(self) -> None:
        """Checkpoint after a cycle's selection, so that a resumed run never
        repeats or loses it; ``last_checkpoint`` points to it.  Older cycle
        checkpoints beyond ``max_keep_cycle_ckpts`` are removed."""
        self._save_checkpoint(CYCLE_CKPT, self.max_keep_cycle_ckpts,
                              make_last=True)

    def _save_trained_checkpoint(self) -> None:
        """Checkpoint the cycle's trained and evaluated model before its
        selection (a branch point, see :func:`branch_experiment`); older
        ones beyond ``max_keep_trained_ckpts`` are removed."""
        if self.max_keep_trained_ckpts:
            self._save_checkpoint(TRAINED_CKPT, self.max_keep_trained_ckpts,
                                  make_last=False)

    def _save_checkpoint(self, name: str, keep: int,
                         make_last: bool) -> None:
        """Save ``name.format(cycle=...)`` of the current cycle where the
        ``CheckpointHook`` writes, through its ``backend_args``; point
        ``last_checkpoint`` at it if ``make_last``; keep the ``keep``
        newest cycles' files of that name."""
        hook = next(
            (h for h in self.runner.hooks if isinstance(h, CheckpointHook)),
            None)
        out_dir = getattr(hook, 'out_dir', None) or self.runner.work_dir
        backend_args = getattr(hook, 'backend_args', None)
        filename = name.format(cycle=self.cycle)
        self.runner.save_checkpoint(
            out_dir,
            filename,
            meta=dict(epoch=self._epoch, iter=self._iter),
            backend_args=backend_args)
        if is_main_process():
            backend = get_file_backend(out_dir, backend_args=backend_args)
            path = backend.join_path(out_dir, filename)
            if make_last:
                write_last_checkpoint(self.runner.work_dir, path)
            prune_checkpoints(
                out_dir,
                checkpoint_regex(name),
                keep,
                protect=path,
                backend=backend)
        barrier()

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict:
        """Progress of the experiment, in plain types (``weights_only``)."""
        return dict(
            cycle=self.cycle,
            epoch_in_cycle=self.epoch_in_cycle,
            evaluated=self.evaluated,
            epoch=self._epoch,
            iter=self._iter,
            base_lrs=self.base_lrs,
            phase_iter=self._phase_iter,
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
        self._epoch = state['epoch']
        self._iter = state['iter']
        self.base_lrs = state['base_lrs']
        self._phase_iter = state.get('phase_iter', 0)
        self.results = state['results']
        # The runner loads the checkpoint's message hub after this, and
        # with it the name of the strategy that wrote it; a run branched
        # from another strategy's checkpoint (branch_experiment) records
        # its own in its results, so prepare() puts it back.
        self._own_strategy = self.runner.message_hub.get_info('al_strategy')
        if self.evaluated and self.splitter.cycle > self.cycle:
            # a cycle checkpoint: trained, evaluated and selected; go on
            # with the next cycle
            self.cycle += 1
            self.epoch_in_cycle = 0
            self.evaluated = False


def branch_experiment(source_dir: str,
                      cycle: int,
                      work_dir: str,
                      seed: Optional[int] = None) -> str:
    """Prepare ``work_dir`` to go on from cycle ``cycle``'s trained model of
    the experiment in ``source_dir``, with another strategy.

    Copies the source's ``al_initial_weights.pth`` (what later cycles start
    from) into ``work_dir`` and returns the source's
    ``trained_cycle_<cycle>.pth``.  ``tools/train.py CONFIG --work-dir
    work_dir --resume <it>`` then starts where the source was after
    evaluating cycle ``cycle``: its model, X_L / X_U of that cycle, its
    results so far and its seed; it selects with CONFIG's strategy and
    trains the next cycles. CONFIG must have the source's model, cycle
    schedule and split settings (the resume checks the last two).

    Args:
        source_dir (str): The source experiment's work dir.
        cycle (int): The cycle whose trained model the branch selects with.
        work_dir (str): The branch's work dir (created if need be).
        seed (int, optional): The seed the branch is meant to have; the
            source's must equal it.

    Returns:
        str: The checkpoint to resume from.

    Raises:
        FileNotFoundError: If ``source_dir`` lacks the checkpoint (the
            message lists the cycles it has one for) or the initial
            weights.
        ValueError: If the source ran with another seed than ``seed``.
    """
    checkpoint = osp.join(source_dir, TRAINED_CKPT.format(cycle=cycle))
    if not osp.isfile(checkpoint):
        pattern = re.compile(checkpoint_regex(TRAINED_CKPT) + '$')
        names = os.listdir(source_dir) if osp.isdir(source_dir) else []
        have = sorted(int(m.group(1)) for m in map(pattern.match, names) if m)
        raise FileNotFoundError(
            f'{checkpoint}: no such file; {source_dir} holds the trained '
            f'model of cycles {have} (train_cfg.max_keep_trained_ckpts '
            'keeps the newest; -1 keeps every cycle\'s)')
    initial = osp.join(source_dir, INITIAL_WEIGHTS)
    if not osp.isfile(initial):
        raise FileNotFoundError(f'{initial}: no such file (the weights '
                                'every cycle of the source starts from)')
    if seed is not None:
        meta = torch.load(checkpoint, map_location='cpu', weights_only=True,
                          mmap=True)['meta']
        if meta.get('seed') != seed:
            raise ValueError(f'{checkpoint} was written by a run of seed '
                             f'{meta.get("seed")}, not {seed}')
    os.makedirs(work_dir, exist_ok=True)
    with open(initial, 'rb') as src, \
            atomic_open(osp.join(work_dir, INITIAL_WEIGHTS), 'wb') as dst:
        shutil.copyfileobj(src, dst)
    return checkpoint


def _check_early_stop(cfg: Optional[dict]) -> Optional[dict]:
    """Validate ``train_cfg.early_stop``; return it with defaults."""
    if cfg is None:
        return None
    unknown = set(cfg) - {'ap_shift', 'ap_range', 'metric'}
    if unknown:
        raise KeyError(f'train_cfg.early_stop: unknown keys '
                       f'{sorted(unknown)} (known: ap_shift, ap_range, '
                       'metric)')
    cfg = dict(metric=None, **cfg)
    if not isinstance(cfg.get('ap_shift'), (int, float)) or \
            cfg['ap_shift'] < 0:
        raise ValueError('train_cfg.early_stop.ap_shift must be a number '
                         f'>= 0, got {cfg.get("ap_shift")!r}')
    if not isinstance(cfg.get('ap_range'), int) or cfg['ap_range'] < 1:
        raise ValueError('train_cfg.early_stop.ap_range must be an int >= '
                         f'1, got {cfg.get("ap_range")!r}')
    return cfg
