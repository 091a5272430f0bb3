"""Curves and pictures of an active-learning experiment, through the
runner's visualizer (``vis_data/`` of the run, TensorBoard when configured).
"""
import copy
import math
from typing import List, Optional, Sequence, Set

import mmcv
import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.dist import is_main_process
from mmengine.fileio import get
from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.visualization import TensorboardVisBackend
from mmdet.registry import HOOKS

from al_plugin.datasets.dataset_tree import leaf_datasets
from .active_selection_hook import SELECTION_INFO

#: the counts of a cycle's record (``results.json``) logged as scalars
CYCLE_COUNTS = ('num_labeled', 'num_labeled_boxes', 'num_pseudo_labeled',
                'num_pseudo_boxes', 'sl_al_ratio', 'num_pool')


@HOOKS.register_module()
class ActiveLearningVisualizationHook(Hook):
    """Log what each cycle of :class:`ActiveLearningLoop` did.
    (Also registered as ``ALVisualizationHook``, its name before.)

    Through ``runner.visualizer`` (every backend it has; with mmdet's
    default runtime ``LocalVisBackend``, which writes
    ``<work_dir>/<timestamp>/vis_data/``):

    - per cycle, ``step = cycle``: every numeric metric of the cycle's
      evaluation (``cycle/pascal_voc/mAP``...) and each of ``CYCLE_COUNTS``
      the cycle's record holds, as scalars ``cycle/<name>``;
    - per selection: the strategy's scores of the whole scored pool as a
      histogram image ``pool_scores`` (the selected images stacked in
      another colour), and on a ``TensorboardVisBackend`` also as native
      histograms ``cycle/pool_scores`` / ``cycle/selected_scores``
      (strategies without scores, e.g. random or core-set, have none);
    - per selection: the top ``num_images`` selected images (in the order
      the strategy chose them) with the boxes the cycle's model predicts,
      drawn by the ``DetLocalVisualizer``, in one image
      ``selected_images``;
    - per logged training iteration: the iteration's own losses under
      ``<phase>/<loss>`` (``label/loss_cls``, ``min/u_loss_wave_dis``,
      ...). ``LoggerHook`` logs the same keys without the phase, averaged
      over the log processor's window, which mixes the iterations of
      consecutive phases and keeps the last value of a phase's loss (the
      MI-AOD unlabeled ``u_*`` ones) through the later phases.

    ``LocalVisBackend`` writes ``vis_image/<name>_<cycle>.png``, scalars.json.

    The selection comes from the message hub (``al_selection``, published
    by :class:`ActiveSelectionHook` once committed); this hook's priority
    ``VERY_LOW`` puts it after the selection hook (``LOW``) at
    ``after_cycle``, which the loop calls after the cycle's evaluation.
    Only rank 0 predicts and draws.

    Args:
        num_images (int): Selected images drawn per cycle (the first
            chosen). Defaults to 8.
        score_thr (float): Predicted boxes below this score are not drawn.
            Defaults to 0.3.
        histogram_bins (int): Bins of the score histograms. Defaults to 50.
        draw (bool): Draw the selected images (one small forward pass per
            image). Defaults to True.
        tile_size (int): Longer side, in pixels, of each image in the
            picture of the selected images. Defaults to 320.
        pipeline (list[dict], optional): Test pipeline of the predictions
            on the selected images. Defaults to None: the
            ``val_dataloader``'s (which the pool scoring uses too).
        phase_losses (bool): Log the losses per phase. Defaults to True.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 num_images: int = 8,
                 score_thr: float = 0.3,
                 histogram_bins: int = 50,
                 draw: bool = True,
                 tile_size: int = 320,
                 pipeline: Optional[List[dict]] = None,
                 phase_losses: bool = True) -> None:
        if num_images < 0 or histogram_bins < 1 or tile_size < 16:
            raise ValueError(
                'ActiveLearningVisualizationHook: num_images must be >= 0, '
                'histogram_bins >= 1 and tile_size >= 16, got '
                f'{num_images}, {histogram_bins}, {tile_size}')
        self.num_images = num_images
        self.score_thr = score_thr
        self.histogram_bins = histogram_bins
        self.draw = draw
        self.tile_size = tile_size
        self.pipeline_cfg = copy.deepcopy(pipeline)
        self.phase_losses = phase_losses
        self._pipeline = None
        self._logged_cycles: Set[int] = set()
        self._log_interval, self._ignore_last = 10, True

    def before_run(self, runner) -> None:
        logger_hook = next(
            (h for h in runner.hooks if isinstance(h, LoggerHook)), None)
        if logger_hook is not None:  # log at the iterations it logs
            self._log_interval = logger_hook.interval
            self._ignore_last = logger_hook.ignore_last

    # -- losses per phase -----------------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        phase = runner.message_hub.get_info('al_phase')
        if not (self.phase_losses and outputs and phase):
            return
        interval = self._log_interval
        if not (self.every_n_inner_iters(batch_idx, interval) or
                (self.end_of_epoch(runner.train_dataloader, batch_idx) and
                 (not self._ignore_last
                  or len(runner.train_dataloader) <= interval))):
            return
        losses = {
            f'{phase}/{k}': float(
                v.detach() if isinstance(v, torch.Tensor) else v)
            for k, v in outputs.items() if 'loss' in k
        }
        if losses:
            runner.visualizer.add_scalars(losses, step=runner.iter + 1)

    # -- per cycle ---------------------------------------------------------
    def after_cycle(self, runner, cycle: int, last: bool = False) -> None:
        self._log_results(runner)
        selection = runner.message_hub.get_info(SELECTION_INFO)
        if selection is None or selection['cycle'] != cycle or \
                not is_main_process() or not vis_backends(runner.visualizer):
            return  # no selection, not rank 0 or nowhere to log to
        if selection['scores'] is not None:
            self.log_histogram(runner.visualizer, cycle, selection)
        if self.draw and self.num_images:
            self._log_selected(runner, cycle, selection)

    def after_train(self, runner) -> None:
        # a cycle that stops the experiment (early stop) has no after_cycle
        self._log_results(runner)

    def _log_results(self, runner) -> None:
        """Scalars of every evaluated cycle not logged yet (on resume, the
        earlier cycles too: a resumed run writes a new ``vis_data``)."""
        for result in getattr(runner.train_loop, 'results', ()):
            cycle = result['cycle']
            if cycle in self._logged_cycles:
                continue
            scalars = {
                f'cycle/{k}': v
                for k, v in [*result['metrics'].items(),
                             *((k, result.get(k)) for k in CYCLE_COUNTS)]
                if isinstance(v, (int, float))
            }
            runner.visualizer.add_scalars(scalars, step=cycle)
            self._logged_cycles.add(cycle)

    def log_histogram(self, visualizer, cycle: int, selection: dict) -> None:
        """Log the histogram of a selection's pool scores: an image to
        every backend, and a native histogram to TensorBoard's.

        Args:
            visualizer (Visualizer): Where to log.
            cycle (int): The step.
            selection (dict): As :class:`ActiveSelectionHook` publishes it,
                with ``scores``.
        """
        scores = np.asarray(selection['scores'], dtype=np.float64)
        chosen = np.zeros(len(scores), dtype=bool)
        chosen[selection['chosen']] = True
        finite = np.isfinite(scores)
        pool_scores, selected_scores = scores[finite], scores[finite & chosen]
        if not len(pool_scores):
            return
        for backend in vis_backends(visualizer):
            if isinstance(backend, TensorboardVisBackend):
                writer = backend.experiment
                writer.add_histogram('cycle/pool_scores', pool_scores, cycle,
                                     bins=self.histogram_bins)
                if len(selected_scores):
                    writer.add_histogram('cycle/selected_scores',
                                         selected_scores, cycle,
                                         bins=self.histogram_bins)
        image = histogram_image(
            pool_scores,
            selected_scores,
            bins=self.histogram_bins,
            title=f'cycle {cycle}: {selection["strategy"]} scores of '
            f'{len(pool_scores)} pool images, {len(selected_scores)} '
            'selected')
        visualizer.add_image('pool_scores', image, step=cycle)

    # -- the selected images -----------------------------------------------
    def _log_selected(self, runner, cycle: int, selection: dict) -> None:
        # mmdet's visualization (matplotlib) is imported when first drawn
        from mmdet.visualization import DetLocalVisualizer
        visualizer = runner.visualizer
        if not isinstance(visualizer, DetLocalVisualizer):
            runner.logger.warning(
                'ActiveLearningVisualizationHook: runner.visualizer is a '
                f'{type(visualizer).__name__}, not a DetLocalVisualizer: the '
                'selected images are not drawn')
            self.draw = False
            return
        pool = runner.train_loop.pool
        chosen = np.asarray(selection['chosen'])[:self.num_images]
        indices = np.asarray(selection['pool'])[chosen]
        scores = selection['scores']
        meta = visualizer.dataset_meta or getattr(pool, 'metainfo', {})
        tiles, captions = [], []
        for rank, (pos, index) in enumerate(zip(chosen, indices)):
            info = pool.get_data_info(int(index))
            prediction = self._predict(runner, info)
            image = _read_rgb(info.get('img_path'))
            if prediction is None or image is None:
                continue
            tiles.append(
                self.draw_prediction(visualizer, image, prediction,
                                     meta.get('classes'), meta.get('palette')))
            captions.append(f'#{rank + 1} {info.get("img_id", index)}' + (
                '' if scores is None else f' {float(scores[pos]):.4g}'))
        if tiles:
            visualizer.add_image(
                'selected_images', tile_images(tiles, captions), step=cycle)

    def _predict(self, runner, info: dict):
        """The model's prediction for one pool image (eval mode, no grad),
        or None when the image cannot be read."""
        if self._pipeline is None:
            cfg = self.pipeline_cfg or leaf_datasets(
                runner.cfg.val_dataloader['dataset'])[0]['pipeline']
            self._pipeline = Compose(copy.deepcopy(cfg))
        try:
            data = self._pipeline(copy.deepcopy(info))
        except Exception as error:  # a file gone since the scoring pass
            runner.logger.warning(
                f'ActiveLearningVisualizationHook: cannot read '
                f'{info.get("img_path")}: {type(error).__name__}: {error}')
            return None
        if data is None:
            return None
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return model.test_step(pseudo_collate([data]))[0].cpu()
        finally:
            model.train(was_training)

    def draw_prediction(self,
                        visualizer,
                        image: np.ndarray,
                        prediction,
                        classes: Optional[Sequence[str]] = None,
                        palette=None) -> np.ndarray:
        """One image with its predicted boxes, as ``add_datasample`` draws
        them (without ``add_datasample``'s ``add_image`` of every image).

        Args:
            visualizer (DetLocalVisualizer): Draws the boxes.
            image (np.ndarray): ``(h, w, 3)`` RGB, the original image.
            prediction (DetDataSample): With ``pred_instances`` in the
                original image frame.
            classes (Sequence[str], optional): Class names.
            palette (optional): The dataset's palette.

        Returns:
            np.ndarray: The image scaled to a longer side of ``tile_size``
            with the boxes scoring above ``score_thr``, RGB uint8.
        """
        image, scale = mmcv.imrescale(
            image,
            self.tile_size / max(image.shape[:2]),
            return_scale=True)
        instances = prediction.pred_instances
        instances = instances[instances.scores > self.score_thr]
        instances.bboxes = instances.bboxes * scale
        # mmdet 3.3.0 has no public way to draw instances without logging:
        # `add_datasample` draws with this method, then sends the image to
        # every vis backend (one file per image); the picture of the selected
        # images is logged once, as one image
        return visualizer._draw_instances(image, instances, classes, palette)


def vis_backends(visualizer) -> list:
    """The vis backends of an mmengine ``Visualizer`` (none for another
    object).

    mmengine 0.10.7 has no public way to list them (``get_backend`` needs a
    name, and a config's names are popped when the visualizer is built), so
    this reads ``Visualizer._vis_backends``.
    """
    return list(getattr(visualizer, '_vis_backends', {}).values())


def _read_rgb(path: Optional[str]) -> Optional[np.ndarray]:
    if path is None:
        return None
    try:
        return mmcv.imfrombytes(get(path), channel_order='rgb')
    except Exception:
        return None


def histogram_image(scores: np.ndarray,
                    selected: np.ndarray,
                    bins: int = 50,
                    title: str = '',
                    size=(640, 400)) -> np.ndarray:
    """A histogram of the pool's scores as an RGB image.

    Args:
        scores (np.ndarray): ``(P, )`` every scored pool image's score.
        selected (np.ndarray): ``(B, )`` the scores of the selected ones
            (a subset of ``scores``), stacked in another colour.
        bins (int): Number of bins over ``[min, max]`` of ``scores``.
        title (str): Title above the plot.
        size (tuple[int]): ``(width, height)`` in pixels.

    Returns:
        np.ndarray: ``(height, width, 3)`` uint8, RGB.
    """
    # matplotlib is imported when a histogram is first drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    edges = np.histogram_bin_edges(scores, bins=bins)
    counts_sel = np.histogram(selected, bins=edges)[0]
    counts_rest = np.histogram(scores, bins=edges)[0] - counts_sel
    widths = np.diff(edges)
    ax.bar(edges[:-1], counts_rest, width=widths, align='edge',
           color='tab:blue', label='not selected')
    ax.bar(edges[:-1], counts_sel, width=widths, align='edge',
           bottom=counts_rest, color='tab:orange', label='selected')
    ax.set_xlabel('score')
    ax.set_ylabel('images')
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def tile_images(images: List[np.ndarray],
                captions: List[str],
                columns: int = 4,
                gap: int = 4,
                caption_height: int = 18) -> np.ndarray:
    """Put images in a grid, each with a caption strip above it.

    Args:
        images (list[np.ndarray]): ``(h_i, w_i, 3)`` uint8 RGB.
        captions (list[str]): One line per image.
        columns (int): Images per row (at most). Defaults to 4.
        gap (int): Pixels between the cells. Defaults to 4.
        caption_height (int): Height of the caption strip. Defaults to 18.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    import cv2  # drawing text; imported when first drawn

    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    cell_h = max(i.shape[0] for i in images) + caption_height
    cell_w = max(i.shape[1] for i in images)
    canvas = np.full((rows * (cell_h + gap) + gap,
                      columns * (cell_w + gap) + gap, 3), 255, np.uint8)
    for k, (image, caption) in enumerate(zip(images, captions)):
        y = gap + k // columns * (cell_h + gap)
        x = gap + k % columns * (cell_w + gap)
        canvas[y:y + caption_height, x:x + cell_w] = 40
        cv2.putText(canvas, caption, (x + 3, y + caption_height - 5),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
        h, w = image.shape[:2]
        top = y + caption_height
        canvas[top:top + h, x:x + w] = image
    return canvas


HOOKS.register_module(  # the name older configs use
    name='ALVisualizationHook', module=ActiveLearningVisualizationHook)
