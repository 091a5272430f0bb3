"""The active-dataset splitter: labeled / unlabeled split of a pool.

One :class:`ActiveDatasetSplitter` owns the split of a pool for a whole
active-learning experiment, as MI-AOD's reference code does it. Its parts:

- :mod:`.pool`: the pool's image ids and subset tags (global index ``i`` is
  position ``i`` of the training dataset, walked by :mod:`.dataset_tree`);
- :mod:`.split_draws`: the size settings and the seeded draws (X_L_0 from
  ``np.random.RandomState(seed).permutation(N)``, each X_U from
  ``np.random.default_rng([seed, c])``, so a resumed run draws the same);
- :mod:`.split_state`: the split itself, one array (the cycle at which each
  image was labeled), with its checkpoint state and consistency checks;
- :mod:`.split_files`: the files of each cycle (``X_L_<c>.npy``,
  ``X_U_<c>.npy``, ``cycle<c>/trainval_X_*_<tag>.txt``,
  ``selection_<c>.json``, ``pseudo_labels_<c>.json``; names and writers in
  :mod:`al_plugin.work_dir`), written by rank 0, each atomically.
"""
from numbers import Integral
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_world_size

from al_plugin.registry import SPLITTERS
from .dataset_tree import leaf_datasets
from .pool import PoolImages, read_pool, year_tag
from .pseudo_labels import PseudoLabels
from .split_draws import (Size, draw_unlabeled, initial_split, resolve_size,
                          resolve_sizes)
from .split_files import publish
from .split_state import SplitState, check_partition

__all__ = [
    'ActiveDatasetSplitter', 'check_partition', 'leaf_datasets', 'read_pool',
    'resolve_size', 'year_tag'
]

_STATE_VERSION = 1
_SETTING_KEYS = ('X_L_0_size', 'X_S_size', 'seed', 'unlabeled_size')


def _as_indices(selected) -> List[int]:
    """Convert a selection to a list of python ints, rejecting non-ints."""
    if isinstance(selected, (torch.Tensor, np.ndarray)):
        selected = selected.tolist()
    indices = []
    for position, value in enumerate(selected):
        if isinstance(value,
                      (bool, np.bool_)) or not isinstance(value, Integral):
            raise TypeError(f'selected[{position}] = {value!r} is not an '
                            'integer index')
        indices.append(int(value))
    return indices


def _selection_record(selected, scores, strategy, pseudo_labels,
                      skipped) -> dict:
    """A commit's arguments as :class:`SplitState`'s selection record."""
    indices = _as_indices(selected)
    if scores is not None:
        scores = [float(s) for s in scores]
        if len(scores) != len(indices):
            raise ValueError(f'{len(scores)} scores for {len(indices)} '
                             'selected indices')
    if strategy is not None and not isinstance(strategy, str):
        strategy = type(strategy).__name__
    return dict(strategy=strategy, indices=indices, scores=scores,
                pseudo_labels=PseudoLabels(pseudo_labels),
                skipped=sorted(_as_indices(skipped or [])))


def _check_resumable(state: dict, current: dict, where: str) -> None:
    """Raise unless a splitter state has this version and, for each key of
    ``current`` (a setting or ``pool_digest``), its value (``where``: where
    ``current`` comes from)."""
    if state.get('version') != _STATE_VERSION:
        raise ValueError(f'splitter state version {state.get("version")!r} '
                         f'is not {_STATE_VERSION}')
    recorded = dict(state['settings'], pool_digest=state.get('pool_digest'))
    for key, value in current.items():
        saved = recorded.get(key)
        if saved != value:
            raise ValueError(f'cannot resume: {key}={saved!r} in the '
                             f'checkpoint but {key}={value!r} {where}')


@SPLITTERS.register_module()
class ActiveDatasetSplitter:
    """Labeled / unlabeled split of a pool for a whole experiment.

    Args:
        X_L_0_size (int | float): |X_L_0|, the initial labeled set: a count
            or a fraction in (0, 1) of the pool (VOC07+12: ``16551 // 20``).
        X_S_size (int | float): The budget, images added a cycle: a count or
            a fraction of the pool (VOC07+12: ``16551 // 40``).
        seed (int): Seed of the initial permutation and of each X_U draw.
            Defaults to 666.
        unlabeled_size (int | float, optional): |X_U|, the size of the
            unlabeled *training* subset: a count or a fraction of the pool.
            None (the reference) keeps it equal to |X_L| of each cycle.
            X_U holds labeled indices when the pool is too small: after a
            commit as padding, at cycle 0 when ``X_L_0_size + |X_U| > N``
            (the last |X_U| of the permutation then overlap X_L_0).
        work_dir (str, optional): Where the files go; may be set later as an
            attribute or through :meth:`setup`.

    Example:
        >>> splitter = ActiveDatasetSplitter(X_L_0_size=827, X_S_size=413)
        >>> splitter.setup(train_dataset, work_dir)   # X_L_0.npy, X_U_0.npy
        >>> scores = ...                # one per splitter.pool_indices()
        >>> n = splitter.budget()       # for the next cycle
        >>> splitter.commit(splitter.cycle + 1, selected, strategy='MIAOD')
    """

    def __init__(self,
                 X_L_0_size: Size,
                 X_S_size: Size,
                 seed: int = 666,
                 unlabeled_size: Optional[Size] = None,
                 work_dir: Optional[str] = None) -> None:
        if isinstance(seed, bool) or not isinstance(
                seed, Integral) or not 0 <= seed < 2**32:
            raise ValueError(f'seed must be an int in [0, 2**32), got '
                             f'{seed!r}')
        self.X_L_0_size = X_L_0_size
        self.X_S_size = X_S_size
        self.seed = int(seed)
        self.unlabeled_size = unlabeled_size
        self.work_dir = work_dir
        self._images: Optional[PoolImages] = None
        self._split: Optional[SplitState] = None
        self._sizes = None
        self._pending_state: Optional[dict] = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    def setup(self, dataset, work_dir: Optional[str] = None) -> None:
        """Read the pool, make (or restore) the split, write its files.

        Args:
            dataset: The fully initialised training dataset (an mmdet
                dataset or a ``ConcatDataset`` of them); only its
                ``get_data_info`` is used, its pipeline is never run.
            work_dir (str, optional): Overrides :attr:`work_dir`.
        """
        if work_dir is not None:
            self.work_dir = work_dir
        if self.work_dir is None:
            raise ValueError('ActiveDatasetSplitter needs a work_dir: pass '
                             'it to __init__ or setup(), or set .work_dir')
        self._images = PoolImages.read(dataset)
        self._split = None
        n = len(self._images)
        self._sizes = resolve_sizes(self.X_L_0_size, self.X_S_size,
                                    self.unlabeled_size, n)
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self._split = self._restore(state)
            self._publish(range(self.cycle + 1))
        else:
            self._split = SplitState(n)
            self._split.start(*initial_split(self.seed, self._sizes, n))
            self._publish([0])

    def _ready(self) -> SplitState:
        if self._split is None:
            raise RuntimeError('ActiveDatasetSplitter.setup(dataset, '
                               'work_dir) has not been called')
        return self._split

    # ------------------------------------------------------------------
    # accessors
    # ------------------------------------------------------------------
    @property
    def cycle(self) -> int:
        """int: The current cycle (0 before the first commit)."""
        return self._ready().cycle

    @property
    def pool_size(self) -> int:
        """int: N, the number of images of the pool (labeled or not)."""
        return self._ready().pool_size

    @property
    def tags(self) -> List[str]:
        """list[str]: The subset tags, in index order (e.g. 07, 12)."""
        self._ready()
        return list(self._images.tag_names)

    @property
    def is_exhausted(self) -> bool:
        """bool: Whether every image of the pool is labeled."""
        return self.remaining_pool() == 0

    def remaining_pool(self) -> int:
        """int: The number of not-yet-labeled images."""
        return len(self._ready().pool())

    def _cycle_index(self, cycle: Optional[int]) -> int:
        current = self.cycle
        if cycle is None:
            return current
        if not 0 <= cycle <= current:
            raise ValueError(f'cycle {cycle} is not in 0..{current}')
        return cycle

    def labeled_indices(self, cycle: Optional[int] = None) -> np.ndarray:
        """X_L of a cycle (default: the current one): sorted read-only
        int64 global indices, shape (L, )."""
        cycle = self._cycle_index(cycle)
        return self._split.labeled(cycle)

    def unlabeled_indices(self, cycle: Optional[int] = None) -> np.ndarray:
        """X_U of a cycle (default: the current one), the unlabeled
        training subset (maybe padded): sorted read-only int64 global
        indices, shape (U, )."""
        cycle = self._cycle_index(cycle)
        return self._split.unlabeled(cycle)

    def pool_indices(self) -> np.ndarray:
        """All not-yet-labeled indices, what the selection scores: sorted
        read-only int64 global indices, shape (P, )."""
        return self._ready().pool()

    def pseudo_labels(self, cycle: Optional[int] = None) -> PseudoLabels:
        """Pool images with model-given annotations that ``cycle`` (default:
        the current one) trains on beside X_L, given by the selection that
        made the cycle: global index -> (boxes, labels); empty for cycle 0
        and for strategies without pseudo labels."""
        cycle = self._cycle_index(cycle)
        return self._split.pseudo_labels(cycle)

    def budget(self, cycle: Optional[int] = None) -> int:
        """How many images the commit that creates ``cycle`` may add.

        Args:
            cycle (int, optional): The cycle a commit creates, in
                ``1..current + 1``; defaults to ``current + 1`` (the next).

        Returns:
            int: ``X_S_size`` clipped to the pool left before that commit.
        """
        current = self.cycle
        cycle = current + 1 if cycle is None else cycle
        if not 1 <= cycle <= current + 1:
            raise ValueError(f'budget of cycle {cycle}: commits create '
                             f'cycles 1..{current + 1}')
        return self._split.budget(cycle, self._sizes.X_S)

    def img_id(self, index: int):
        """The image id of global index ``index``."""
        return self._images.img_id(index)

    # ------------------------------------------------------------------
    # selection
    # ------------------------------------------------------------------
    def commit(self,
               cycle: int,
               selected,
               scores: Optional[Sequence[float]] = None,
               strategy=None,
               pseudo_labels=None,
               skipped: Optional[Sequence[int]] = None) -> None:
        """Add a selection to X_L, re-draw X_U and write cycle's files.

        Args:
            cycle (int): The cycle the selection creates: current + 1.
            selected (Sequence[int] | np.ndarray | Tensor): Global indices
                to label, at most :meth:`budget` of them, in the strategy's
                order (recorded as is in ``selection_<cycle>.json``).
            scores (Sequence[float], optional): One score per selected
                index, recorded in the json.
            strategy (str | object, optional): The strategy, or its name.
            pseudo_labels (Mapping[int, tuple], optional): Global index of
                a pool image (not selected) -> ``(boxes (k, 4), labels
                (k, ))``: annotations the model gave it, trained on in
                ``cycle`` (see :meth:`pseudo_labels`).
            skipped (Sequence[int], optional): Pool indices the selection
                could not consider (unreadable images), recorded in the
                json.
        """
        split = self._ready()
        if cycle != self.cycle + 1:
            raise ValueError(f'commit(cycle={cycle}): the current cycle is '
                             f'{self.cycle}, so the next is {self.cycle + 1}')
        selection = _selection_record(selected, scores, strategy,
                                      pseudo_labels, skipped)
        budget = self.budget(cycle)
        if len(selection['indices']) > budget:
            raise ValueError(
                f'{len(selection["indices"])} indices selected for cycle '
                f'{cycle}, more than the budget {budget} (X_S_size='
                f'{self.X_S_size!r}, {self.remaining_pool()} left in the '
                'pool)')

        def draw(labeled, pool):
            size = self._sizes.unlabeled_count(len(labeled))
            return draw_unlabeled(self.seed, cycle, size, labeled, pool)

        split.add(selection, draw)
        try:
            self._publish([cycle])
        except BaseException:
            split.undo()  # the files of this cycle were not (all) written
            raise

    def _publish(self, cycles) -> None:
        publish(self.work_dir, self._split, self._images, cycles,
                self._sizes.X_S)

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def _settings(self) -> dict:
        return {key: getattr(self, key) for key in _SETTING_KEYS}

    def state_dict(self) -> dict:
        """The split, as plain types and int64 tensors (``weights_only``).

        Returns:
            dict: ``version``; ``settings`` (``X_L_0_size``, ``X_S_size``,
            ``seed``, ``unlabeled_size``, ``pool_size``); ``pool_digest``
            (sha1 of the pool's tags and image ids); then
            :meth:`SplitState.state_dict`'s ``cycle``, ``labeled``,
            ``unlabeled``, ``pool`` and ``selections``.
        """
        split = self._ready()
        return dict(
            version=_STATE_VERSION,
            settings=dict(self._settings(), pool_size=split.pool_size),
            pool_digest=self._images.digest(),
            **split.state_dict())

    def load_state_dict(self, state: dict) -> None:
        """Continue the experiment a :meth:`state_dict` describes.

        Before :meth:`setup`, the state is kept and applied by it; after,
        it is applied now and the files of every cycle are rewritten.

        Raises:
            ValueError: If a split setting (``X_L_0_size``, ``X_S_size``,
                ``seed``, ``unlabeled_size``, ``pool_size``) or the pool's
                image ids differ from the current ones, or the state is not
                a consistent split.
        """
        _check_resumable(state, self._settings(), 'in the config')
        if self._split is None:
            self._pending_state = state
            return
        self._split = self._restore(state)
        self._publish(range(self.cycle + 1))

    def _restore(self, state: dict) -> SplitState:
        """The split a state describes, checked against the pool read (a
        refused state leaves the current split as it was)."""
        _check_resumable(state, dict(pool_size=len(self._images),
                                     pool_digest=self._images.digest()),
                         'for this dataset')
        return SplitState.from_state_dict(state, len(self._images))

    # ------------------------------------------------------------------
    # distributed
    # ------------------------------------------------------------------
    def split_digest(self) -> str:
        """str: sha1 of the current cycle, X_L, X_U and pool."""
        return self._ready().digest()

    def verify_consistent(self) -> None:
        """Check that all ranks hold the same split; no-op without dist.

        Raises:
            RuntimeError: Naming the ranks whose split differs from rank
                0's.
        """
        if get_world_size() == 1:
            return
        digests = all_gather_object(self.split_digest())
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise RuntimeError(
                f'the active-learning split differs across ranks: ranks '
                f'{differ} hold X_L/X_U/pool different from rank 0 '
                f'(cycle {self.cycle}); every rank must build the splitter '
                'with the same settings and dataset')
