"""After a cycle: score the unlabeled pool, select, hand it to the splitter."""
import copy
import os.path as osp
from functools import partial
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.utils import set_random_seed
from mmengine.registry import FUNCTIONS
from mmdet.registry import DATASETS, HOOKS

from al_plugin.datasets import ActiveSubset, collate_marking_broken
from al_plugin.registry import STRATEGIES
from al_plugin.strategies import check_strategy_cfg
from ..scoring import (LABELED_OUTPUTS, ScoringProgress, check_output_names,
                       check_scorer_cfg, score_loader)

#: message hub key of the last selection, see ActiveSelectionHook
SELECTION_INFO = 'al_selection'


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
    3. ``strategy.select`` -> positions; ``splitter.commit(cycle + 1, ...)``
       writes ``X_L_<c+1>.npy``, ``X_U_<c+1>.npy``, ``cycle<c+1>/`` and
       ``selection_<c+1>.json`` (rank 0, atomic), with the strategy's
       ``pseudo_labels`` of the images left out (if any), which the next
       cycle trains on.

    The random seed is reset to the experiment's seed before selecting, as in
    the reference; strategies with random picks get ``seed + cycle``.

    After committing, the selection is published in the message hub as
    ``runner.message_hub.get_info('al_selection')`` for hooks that run after
    this one (e.g. :class:`ALVisualizationHook`); it is not saved in
    checkpoints::

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
    """

    priority = 'LOW'

    def __init__(self,
                 strategy: dict,
                 dataloader: Optional[dict] = None,
                 scorer_cfg: Optional[dict] = None,
                 adapter: Optional[dict] = None,
                 select_after_last: bool = False,
                 progress: bool = True) -> None:
        check_strategy_cfg(strategy, 'ActiveSelectionHook.strategy')
        check_scorer_cfg(scorer_cfg, 'ActiveSelectionHook.scorer_cfg')
        self.strategy = STRATEGIES.build(strategy)
        self.dataloader_cfg = copy.deepcopy(dataloader)
        self.scorer_cfg = scorer_cfg or {}
        self.adapter_cfg = adapter
        self.select_after_last = select_after_last
        self.progress = progress
        check_output_names(self.strategy.requires,
                           self.strategy.requires_labeled,
                           self.strategy.name)
        self._scoring_dataset = None

    def before_run(self, runner) -> None:
        runner.message_hub.update_info('al_strategy', self.strategy.name)

    def after_cycle(self, runner, cycle: int, last: bool = False) -> None:
        loop = runner.train_loop
        splitter = loop.splitter
        if last and not self.select_after_last:
            return
        pool = np.asarray(splitter.pool_indices(), dtype=np.int64)
        budget = min(splitter.budget(cycle + 1), len(pool))
        if budget <= 0:
            runner.logger.info(f'cycle {cycle}: the pool is exhausted, '
                               'nothing to select')
            return
        set_random_seed(runner.seed)
        outputs, broken = self.score_pool(runner, pool, cycle)
        outputs.update(self.score_labeled(runner, cycle))
        if broken:
            pool = self._leave_out_broken(runner, cycle, pool, broken)
            budget = min(budget, len(pool))
        self.strategy.seed = runner.seed + cycle
        chosen, scores = self.strategy.select(outputs, budget, len(pool))
        selected = pool[chosen]
        runner.logger.info(
            f'cycle {cycle}: {self.strategy.name} selected {len(selected)} '
            f'of {len(pool)} pool images')
        left_out = np.setdiff1d(
            np.arange(len(pool)), chosen, assume_unique=True)
        pseudo_labels = self.strategy.pseudo_labels(outputs, left_out)
        if pseudo_labels:
            runner.logger.info(
                f'cycle {cycle}: pseudo labels for {len(pseudo_labels)} '
                'images left unlabeled')
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
    def score_pool(self, runner, pool: np.ndarray, cycle: Optional[int] = None
                   ) -> Tuple[Dict[str, np.ndarray], Dict[int, str]]:
        """Compute the strategy's outputs for every readable pool image.

        An image that cannot be read (missing or corrupt file) is left out
        and reported. A strategy that needs no outputs reads no image: only
        missing files are found then.

        With ``progress``, rank 0 shows the images scored, the rate and the
        ETA (counting its own images times the world size: the ranks score
        equal shares in step).

        Returns:
            tuple: the outputs, each ``(P, ...)`` where row i belongs to the
            i-th readable pool index (``np.setdiff1d(pool, broken)``), and
            ``broken``: global index -> error message.
        """
        if not self.strategy.requires:
            return {}, self._missing_images(runner, pool)
        return self.score_indices(
            runner, pool, self.strategy.requires,
            ('' if cycle is None else f'cycle {cycle}: ') + 'pool scoring')

    def score_labeled(self, runner, cycle: Optional[int] = None
                      ) -> Dict[str, np.ndarray]:
        """The strategy's outputs over the labeled images
        (``requires_labeled``, see ``scoring.LABELED_OUTPUTS``): the
        cycle's X_L scored like the pool (same loader settings, model and
        scoring path, sharded and gathered). A labeled image that cannot
        be read is left out, with a warning.

        Returns:
            dict[str, np.ndarray]: name -> ``(L, ...)`` rows, the readable
            labeled images in global index order; empty when the strategy
            lists none.
        """
        wanted = self.strategy.requires_labeled
        if not wanted:
            return {}
        labeled = np.asarray(
            runner.train_loop.splitter.labeled_indices(cycle), np.int64)
        sources = list(dict.fromkeys(LABELED_OUTPUTS[n] for n in wanted))
        outputs, broken = self.score_indices(
            runner, labeled, sources,
            ('' if cycle is None else f'cycle {cycle}: ') +
            'labeled scoring')
        if broken:
            runner.logger.warning(
                f'{len(broken)} labeled image(s) cannot be read and are '
                f'left out of {list(wanted)}: {sorted(broken)[:5]}')
        return {name: outputs[LABELED_OUTPUTS[name]] for name in wanted}

    def score_indices(self, runner, indices: np.ndarray,
                      names: Sequence[str], desc: str
                      ) -> Tuple[Dict[str, np.ndarray], Dict[int, str]]:
        """The named outputs (keys of ``scoring.OUTPUTS``) of the images at
        global ``indices`` of the pool dataset, sharded over the ranks and
        gathered in index order.

        Returns:
            tuple: name -> ``(I, ...)`` rows of the readable images in the
            order of ``np.setdiff1d(indices, broken)``, and ``broken``:
            global index -> error message.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        loader = runner.build_dataloader(
            self._loader_cfg(runner, indices), seed=runner.seed)
        rank, world_size = get_dist_info()
        bar = None
        if self.progress and is_main_process():
            bar = ScoringProgress(
                len(indices), desc=desc, log=runner.logger.info)
        was_training = model.training
        model.eval()
        local = score_loader(
            model,
            loader,
            names,
            self.scorer_cfg,
            self.adapter_cfg,
            progress=bar,
            progress_scale=world_size)  # this rank's share, times the ranks
        model.train(was_training)
        if bar is not None:
            bar.close()
        shards = all_gather_object(local) if world_size > 1 else [local]
        return _merge_shards(shards, indices)

    def _loader_cfg(self, runner, indices):
        if self.dataloader_cfg is None:
            self.dataloader_cfg = pool_loader_cfg_from(runner.cfg)
        if self._scoring_dataset is None:
            dataset_cfg = self.dataloader_cfg['dataset']
            dataset = DATASETS.build(dataset_cfg) if isinstance(
                dataset_cfg, dict) else dataset_cfg
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
            pool_size = len(runner.train_loop.pool)
            if len(dataset) != pool_size:
                raise ValueError(
                    f'ActiveSelectionHook.dataloader.dataset has '
                    f'{len(dataset)} images but the training pool has '
                    f'{pool_size}: both must list the same images in the '
                    'same order')
            self._scoring_dataset = dataset
        cfg = copy.deepcopy({
            k: v
            for k, v in self.dataloader_cfg.items() if k != 'dataset'
        })
        cfg['dataset'] = ActiveSubset(
            self._scoring_dataset,
            indices.tolist(),
            unlabeled=True,
            on_broken='mark')
        cfg.setdefault('sampler', dict(type='DefaultSampler', shuffle=False))
        cfg['collate_fn'] = partial(
            collate_marking_broken,
            collate_fn=_collate_fn(
                cfg.get('collate_fn', dict(type='pseudo_collate'))))
        return cfg

    @staticmethod
    def _missing_images(runner, pool: np.ndarray) -> Dict[int, str]:
        """Pool images whose ``img_path`` does not exist."""
        dataset = runner.train_loop.pool
        missing = {}
        for index in pool.tolist():
            path = dataset.get_data_info(index).get('img_path')
            if path is not None and not osp.exists(path):
                missing[index] = f'FileNotFoundError: {path}'
        return missing


def pool_loader_cfg_from(cfg) -> dict:
    """The train dataloader's pool with the val pipeline and loader settings.

    Args:
        cfg (Config): An experiment config with ``train_dataloader`` and
            ``val_dataloader``.

    Returns:
        dict: A dataloader config for scoring the pool.
    """
    val = cfg.val_dataloader
    pipeline = val['dataset']['pipeline']

    def with_test_pipeline(dataset: dict) -> dict:
        dataset = dict(dataset)
        if 'datasets' in dataset:  # ConcatDataset
            dataset['datasets'] = [
                with_test_pipeline(d) for d in dataset['datasets']
            ]
        elif 'dataset' in dataset:  # other wrappers
            dataset['dataset'] = with_test_pipeline(dataset['dataset'])
        else:
            dataset['pipeline'] = copy.deepcopy(pipeline)
        return dataset

    return dict(
        batch_size=val.get('batch_size', 1),
        num_workers=val.get('num_workers', 0),
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=with_test_pipeline(cfg.train_dataloader['dataset']))


def _collate_fn(cfg) -> Callable:
    """The function a dataloader config's ``collate_fn`` names."""
    if callable(cfg):
        return cfg
    cfg = dict(cfg)
    fn = cfg.pop('type')
    fn = FUNCTIONS.get(fn) if isinstance(fn, str) else fn
    return partial(fn, **cfg) if cfg else fn


def _merge_shards(shards, pool: np.ndarray
                  ) -> Tuple[Dict[str, np.ndarray], Dict[int, str]]:
    """Put the ranks' rows back in pool order, dropping sampler padding;
    return them (for the readable pool images) and the unreadable ones."""
    broken = {}
    for shard in shards:
        broken.update(shard[2])
    pool = np.setdiff1d(
        pool, np.array(list(broken), dtype=np.int64), assume_unique=True)
    index = np.concatenate([s[0] for s in shards])
    position = np.searchsorted(pool, index)
    if np.any(position >= len(pool)) or np.any(
            pool[np.minimum(position, len(pool) - 1)] != index):
        raise RuntimeError('scored an image that is not in the pool')
    merged = {}
    for name in shards[0][1]:
        rows = np.concatenate([s[1][name] for s in shards])
        out = np.empty((len(pool), ) + rows.shape[1:], dtype=rows.dtype)
        seen = np.zeros(len(pool), dtype=bool)
        out[position] = rows  # padded duplicates write identical rows
        seen[position] = True
        if not seen.all():
            missing = pool[~seen][:5].tolist()
            raise RuntimeError(f'pool images were not scored: {missing}...')
        merged[name] = out
    return merged, broken
