"""After a cycle: score the unlabeled pool, select, hand it to the splitter.

The steps are the public functions of :mod:`al_plugin.engine.selection`,
which the tools (``tools/query.py``, the exports) call too; this hook
runs them at the right time on every rank and commits the result.
"""
import copy
from typing import Dict, Optional

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.utils import set_random_seed
from mmdet.registry import HOOKS

from al_plugin.models import check_image_weights
from al_plugin.strategies import DETECTION_OUTPUTS
from ..pseudo_labeling import PseudoLabeling
from ..scoring import check_scorer_cfg
from ..selection import (build_dataset, build_strategy, missing_images,
                         pool_loader_cfg, score_indices, score_labeled,
                         select)

#: message hub key of the last selection, see ActiveSelectionHook
SELECTION_INFO = 'al_selection'

#: the name this module used to give :func:`selection.pool_loader_cfg`
pool_loader_cfg_from = pool_loader_cfg


@HOOKS.register_module()
class ActiveSelectionHook(Hook):
    """Select the next images to label at the custom hook point
    ``after_cycle`` of :class:`ActiveLearningLoop`.

    1. Build the strategy and ask it which per-image outputs it needs.
    2. Score the unlabeled pool in one batched forward pass without NMS or
       box decoding (test pipeline), sharded over the ranks by the sampler and
       gathered back in global index order (padding removed). A strategy
       that lists outputs over the labeled images in ``requires_labeled``
       (core-set's ``labeled_features``) gets them the same way from the
       cycle's X_L.
    3. :func:`~al_plugin.engine.selection.select` (the strategy's
       ``select``) -> positions; ``splitter.commit(cycle + 1, ...)``
       writes ``X_L_<c+1>.npy``, ``X_U_<c+1>.npy``, ``cycle<c+1>/`` and
       ``selection_<c+1>.json`` (rank 0, atomic), with the strategy's
       pseudo labels of the images left out (with ``pseudo_labels``, or a
       strategy that makes its own), which the next cycle trains on.

    The random seed is reset to the experiment's seed before selecting, as in
    the reference; strategies with random picks get ``seed + cycle``.

    A training run whose train loop has no splitter (a plain mmengine loop)
    stops in ``before_run``, naming the loop.

    After committing, the selection is published in the message hub as
    ``runner.message_hub.get_info('al_selection')`` for hooks that run after
    this one (e.g. :class:`ActiveLearningVisualizationHook`); it is not
    saved in checkpoints::

        dict(cycle=c,                # the cycle whose model selected
             strategy='EntropyStrategy',
             pool=np.ndarray,        # (P, ) global indices, readable pool
             scores=np.ndarray,      # (P, ) the strategy's, or None
             chosen=np.ndarray)      # (B, ) positions into pool, in the
                                     # order chosen (best first)

    Args:
        strategy (dict): Config of a ``STRATEGIES`` entry.
        dataloader (dict, optional): Loader config over the whole pool with
            the TEST pipeline: the same images, in the same order, as the
            train dataloader's dataset. Defaults to None: the config's
            ``train_dataloader`` with every dataset's pipeline replaced by
            ``val_dataloader``'s, and ``val_dataloader``'s batch size and
            workers.
        scorer_cfg (dict): Keyword options of the output functions of
            :mod:`al_plugin.engine.scoring` (each takes its own; any of
            ``scoring.scorer_options()`` is accepted, another name fails
            here and at config load), e.g. ``dict(k=10000)`` for MI-AOD's
            top-k mean, ``dict(max_boxes=100, box_score_thr=0.05)`` for
            ``class_probs``.
        adapter (dict, optional): Config of the model's output adapter
            (``ADAPTERS``). Defaults to None: the first registered adapter
            that applies to the model (one-stage or two-stage).
        select_after_last (bool): Also select after the last cycle (what
            to label next once the experiment ends). Defaults to False, as
            the reference.
        progress (bool): Show the scoring pass's progress (images, rate,
            ETA) on rank 0: a bar on a terminal, a log line every 30 s
            otherwise. Defaults to True.
        pseudo_labels (dict, optional): Semi-supervised cycles, with any
            strategy: the detections scoring ``>= score_thr`` of the pool
            images left out (computed in the same scoring pass, which then
            adds ``det_boxes``, ``det_scores``, ``det_labels``) train the
            next cycle as annotations, never written to ``X_L_<c>.npy``,
            ``cycle<c>/*.txt`` or the dataset, recomputed every cycle by
            its model. ``dict(score_thr, weight=1.0, mode='all',
            num_per_round=None)``, see
            :class:`~al_plugin.engine.pseudo_labeling.PseudoLabeling`
            (``mode``: ``'all'``, ASM_core's ``'v1'`` / ``'v1+'``;
            ``weight`` != 1 needs heads that weigh images, checked before
            training). A strategy that makes its own (mining's
            ``use_pseudo_labels``) sets ``score_thr``; this option may then
            set the rest. Defaults to None (none, unless the strategy).
    """

    priority = 'LOW'

    def __init__(self,
                 strategy: dict,
                 dataloader: Optional[dict] = None,
                 scorer_cfg: Optional[dict] = None,
                 adapter: Optional[dict] = None,
                 select_after_last: bool = False,
                 progress: bool = True,
                 pseudo_labels: Optional[dict] = None) -> None:
        self.strategy = build_strategy(strategy,
                                       'ActiveSelectionHook.strategy')
        self.pseudo_labeling = PseudoLabeling.from_cfg(
            pseudo_labels, self.strategy,
            'ActiveSelectionHook.pseudo_labels')
        check_scorer_cfg(scorer_cfg, 'ActiveSelectionHook.scorer_cfg')
        self.dataloader_cfg = copy.deepcopy(dataloader)
        self.scorer_cfg = scorer_cfg or {}
        self.adapter_cfg = adapter
        self.select_after_last = select_after_last
        self.progress = progress
        self._scoring_dataset = None

    def before_run(self, runner) -> None:
        """In a training run, check that the train loop has a dataset
        splitter (:class:`ActiveLearningLoop` or a subclass) and give it
        the strategy's name (``loop.strategy_name``, which its results
        record) and the pseudo-label settings (``loop.pseudo_labeling``);
        a pseudo-label ``weight`` other than 1 needs a detector whose heads
        weigh images (:func:`al_plugin.models.check_image_weights`)."""
        # Only a training run has built its loop by now (Runner.train);
        # reading `runner.train_loop` in a test or val run would build
        # it. mmengine's LoggerHook tells the two apart the same way.
        loop = runner._train_loop
        if loop is None or isinstance(loop, dict):
            return
        if getattr(loop, 'splitter', None) is None:
            raise TypeError(
                'ActiveSelectionHook selects after each cycle of an '
                'ActiveLearningLoop (train_cfg.type=\'ActiveLearningLoop\' '
                'or a subclass) and hands the selection to its splitter; '
                f'this run\'s train loop is a {type(loop).__name__}, '
                'which has no splitter')
        loop.strategy_name = self.strategy.name
        loop.pseudo_labeling = self.pseudo_labeling
        if self.pseudo_labeling and self.pseudo_labeling.weight != 1.0:
            model = runner.model
            check_image_weights(
                model.module if is_model_wrapper(model) else model,
                'ActiveSelectionHook.pseudo_labels.weight='
                f'{self.pseudo_labeling.weight}')

    def after_cycle(self, runner, cycle: int, last: bool = False) -> None:
        splitter = runner.train_loop.splitter
        if last and not self.select_after_last:
            return
        pool = np.asarray(splitter.pool_indices(), dtype=np.int64)
        budget = min(splitter.budget(cycle + 1), len(pool))
        if budget <= 0:
            runner.logger.info(f'cycle {cycle}: the pool is exhausted, '
                               'nothing to select')
            return
        set_random_seed(runner.seed)
        outputs, broken = self._score_pool(runner, pool, cycle)
        outputs.update(self._score_labeled(runner, cycle))
        if broken:
            pool = self._leave_out_broken(runner, cycle, pool, broken)
            budget = min(budget, len(pool))
        thr = self.pseudo_labeling.score_thr if self.pseudo_labeling \
            else None
        chosen, scores, pseudo_labels = select(self.strategy, outputs,
                                               budget, len(pool),
                                               runner.seed + cycle, thr)
        selected = pool[chosen]
        runner.logger.info(
            f'cycle {cycle}: {self.strategy.name} selected {len(selected)} '
            f'of {len(pool)} pool images')
        if self.pseudo_labeling:
            runner.logger.info(
                f'cycle {cycle}: pseudo labels (score >= {thr}) for '
                f'{len(pseudo_labels)} images left unlabeled, '
                f'{sum(len(b[1]) for b in pseudo_labels.values())} boxes')
        splitter.commit(
            cycle + 1,
            selected.tolist(),
            scores=None if scores is None else scores[chosen].tolist(),
            strategy=self.strategy.name,
            pseudo_labels={
                int(pool[pos]): boxes
                for pos, boxes in pseudo_labels.items()
            },
            skipped=sorted(broken))
        splitter.verify_consistent()  # every rank holds the same X_L
        runner.message_hub.update_info(
            SELECTION_INFO,
            dict(
                cycle=cycle,
                strategy=self.strategy.name,
                pool=pool,
                scores=None if scores is None else np.asarray(scores),
                chosen=chosen),
            resumed=False)

    @staticmethod
    def _leave_out_broken(runner, cycle: int, pool: np.ndarray,
                          broken: Dict[int, str]) -> np.ndarray:
        """Log the pool images that could not be read; return the rest."""
        splitter = runner.train_loop.splitter
        examples = '; '.join(
            f'{splitter.img_id(i)}: {message}'
            for i, message in sorted(broken.items())[:5])
        runner.logger.warning(
            f'cycle {cycle}: {len(broken)} pool image(s) cannot be read and '
            f'are left out of the selection ({examples}'
            f'{"; ..." if len(broken) > 5 else ""})')
        readable = np.setdiff1d(
            pool, np.array(list(broken), dtype=np.int64), assume_unique=True)
        if not len(readable):
            raise RuntimeError(
                f'cycle {cycle}: none of the {len(pool)} pool images can be '
                f'read ({examples})')
        return readable

    # -- scoring ------------------------------------------------------------
    def pool_outputs(self) -> tuple:
        """The names of the outputs the pool scoring computes: the
        strategy's ``requires``, plus the detections with
        ``pseudo_labels``."""
        names = tuple(self.strategy.requires)
        if self.pseudo_labeling:
            names += tuple(n for n in DETECTION_OUTPUTS if n not in names)
        return names

    def _score_pool(self, runner, pool: np.ndarray, cycle: int):
        """The outputs of :meth:`pool_outputs` (``(P, ...)`` rows of the
        readable pool images, ``np.setdiff1d(pool, broken)``) and
        ``broken`` (index -> error), in one pass. When no output is needed
        no image is read: only missing files are found then."""
        names = self.pool_outputs()
        if not names:
            return {}, missing_images(runner.train_loop.pool, pool)
        scored = score_indices(
            runner.model, *self._scoring_data(runner), pool, names,
            **self._score_options(runner, f'cycle {cycle}: pool scoring'))
        return scored.outputs, scored.broken

    def _score_labeled(self, runner, cycle: int) -> Dict[str, np.ndarray]:
        """The strategy's ``requires_labeled`` over the cycle's X_L, scored
        like the pool; ``{}`` when it lists none. A labeled image that
        cannot be read is left out, with a warning."""
        wanted = self.strategy.requires_labeled
        if not wanted:
            return {}
        labeled = np.asarray(
            runner.train_loop.splitter.labeled_indices(cycle), np.int64)
        scored = score_labeled(
            runner.model, *self._scoring_data(runner), labeled, wanted,
            **self._score_options(runner, f'cycle {cycle}: labeled scoring'))
        if scored.broken:
            runner.logger.warning(
                f'{len(scored.broken)} labeled image(s) cannot be read and '
                f'are left out of {list(wanted)}: '
                f'{sorted(scored.broken)[:5]}')
        return scored.outputs

    def _score_options(self, runner, desc: str) -> dict:
        return dict(
            scorer_cfg=self.scorer_cfg,
            adapter_cfg=self.adapter_cfg,
            seed=runner.seed,
            progress=self.progress,
            desc=desc,
            log=runner.logger.info)

    def _scoring_data(self, runner):
        """``(loader config, built pool dataset)``, built once; the dataset
        must list the training pool's images."""
        if self.dataloader_cfg is None:
            self.dataloader_cfg = pool_loader_cfg(runner.cfg)
        if self._scoring_dataset is None:
            dataset = build_dataset(self.dataloader_cfg['dataset'])
            pool_size = len(runner.train_loop.pool)
            if len(dataset) != pool_size:
                raise ValueError(
                    f'ActiveSelectionHook.dataloader.dataset has '
                    f'{len(dataset)} images but the training pool has '
                    f'{pool_size}: both must list the same images in the '
                    'same order')
            self._scoring_dataset = dataset
        return self.dataloader_cfg, self._scoring_dataset
