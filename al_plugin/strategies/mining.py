"""Active sample mining: uncertain boxes go to annotators, certain boxes
become pseudo labels (ASM, Wang et al., 2018)."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import DETECTION_OUTPUTS, BaseStrategy


@STRATEGIES.register_module()
class SelfSupervisedMiningStrategy(BaseStrategy):
    """Images with the largest share of uncertain detections.

    Reads ``det_scores[i]`` ``(n_i, )`` per image (an object array or list
    of length N); with ``use_pseudo_labels`` also ``det_boxes[i]``
    ``(n_i, 4)`` and ``det_labels[i]`` ``(n_i, )``: the certain boxes of
    the images left out become pseudo labels (:meth:`pseudo_labels`,
    ``pseudo_label_thr = certain_thr``), the selection hook's
    ``pseudo_labels`` mechanism with ASM's threshold.

    A detection is *certain* when its score is ``>= certain_thr`` and
    *uncertain* when ``uncertain_thr <= score < certain_thr``; lower ones
    are ignored. An image's AL ratio is ``uncertain / (uncertain +
    certain)`` (0 when it has neither), and images rank by it, highest
    first.

    Args:
        certain_thr (float): Score from which a box is a pseudo label.
            Defaults to 0.6.
        uncertain_thr (float): Score from which a box counts at all.
            Defaults to 0.3.
        mode (str): ``'topk'``: the ``budget`` highest ratios.
            ``'threshold'``: only images with ratio ``>= ratio_thr`` are
            eligible; :meth:`select` returns them (highest first) up to
            ``budget``, so possibly fewer than ``budget`` positions, and the
            rest of the budget is left unfilled (the ``random_fraction``
            part is still drawn). Defaults to ``'topk'``.
        ratio_thr (float): Eligibility threshold of ``'threshold'`` mode.
            Defaults to 0.5.
        use_pseudo_labels (bool): Whether the next cycle trains on the
            certain boxes of the images not selected (as the hook's
            ``pseudo_labels=dict(score_thr=certain_thr)``, whose other
            options -- ``weight``, ``mode`` -- the hook may still set); it
            makes ``requires`` name the boxes and labels too. Defaults to
            False.
        **kwargs: :class:`BaseStrategy` options.
    """

    modes = ('topk', 'threshold')

    def __init__(self, certain_thr: float = 0.6, uncertain_thr: float = 0.3,
                 mode: str = 'topk', ratio_thr: float = 0.5,
                 use_pseudo_labels: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in self.modes:
            raise ValueError(
                f'mode must be one of {self.modes}, got {mode!r}')
        if not 0.0 <= uncertain_thr <= certain_thr:
            raise ValueError('need 0 <= uncertain_thr <= certain_thr, got '
                             f'{uncertain_thr} and {certain_thr}')
        self.certain_thr = certain_thr
        self.uncertain_thr = uncertain_thr
        self.mode = mode
        self.ratio_thr = ratio_thr
        self.use_pseudo_labels = use_pseudo_labels
        self.pseudo_label_thr = certain_thr if use_pseudo_labels else None
        self.requires = DETECTION_OUTPUTS if use_pseudo_labels \
            else ('det_scores', )

    def score(self, outputs):
        ratios = np.zeros(len(outputs['det_scores']), dtype=np.float64)
        for i, scores in enumerate(outputs['det_scores']):
            scores = np.asarray(scores, dtype=np.float64)
            counted = np.count_nonzero(scores >= self.uncertain_thr)
            if counted:
                certain = np.count_nonzero(scores >= self.certain_thr)
                ratios[i] = (counted - certain) / counted
        return ratios

    def rank(self, scores, num_images, budget):
        order = super().rank(scores, num_images, budget)
        if self.mode == 'threshold':
            order = order[np.asarray(scores)[order] >= self.ratio_thr]
        return order
