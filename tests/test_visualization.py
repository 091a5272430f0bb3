"""What an experiment shows while it runs: the scoring pass's progress and
the per-cycle curves and pictures of ALVisualizationHook."""
import io
import json
import re
import time

import cv2
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData
from mmengine.visualization import TensorboardVisBackend

from al_plugin.engine.hooks import ALVisualizationHook
from al_plugin.engine.scoring import ScoringProgress
from .test_strategy_configs import run_tiny

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
STATUS = (r'(\d+)/10 images, \d+\.\d img/s, elapsed \d:\d\d:\d\d, '
          r'ETA \d:\d\d:\d\d')


class _Terminal(io.StringIO):

    def isatty(self):
        return True


def test_progress_off_a_terminal_logs_lines_with_rate_and_eta(capsys):
    bar = ScoringProgress(10, desc='scoring', interval=0)
    for _ in range(5):
        time.sleep(0.002)
        bar.update(2)
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert '\r' not in ''.join(lines)
    # one line per update before the last, then the closing line
    assert len(lines) == 5
    done = [int(re.fullmatch('scoring: ' + STATUS, line).group(1))
            for line in lines[:-1]]
    assert done == [2, 4, 6, 8]
    assert re.fullmatch(r'scoring: 10 images in 0:00:00 \(\d+\.\d img/s\)',
                        lines[-1])


def test_progress_does_not_flood_a_log():
    lines = []
    bar = ScoringProgress(10, log=lines.append, interval=3600,
                          file=io.StringIO())
    for _ in range(10):
        bar.update()
    bar.close()
    assert len(lines) == 1 and lines[0].startswith('scoring: 10 images in')


def test_progress_redraws_one_line_on_a_terminal():
    out, lines = _Terminal(), []
    bar = ScoringProgress(10, desc='scoring', log=lines.append, file=out)
    for num in (3, 3, 4):
        time.sleep(0.12)  # redraws are at most 10 a second
        bar.update(num)
    bar.close()
    text = out.getvalue()
    assert text.endswith('\n') and text.count('\n') == 1
    draws = text[:-1].split('\r')[1:]
    assert len(draws) >= 4  # the empty bar, three updates, the last
    for draw in draws[1:]:
        assert re.fullmatch(r'scoring: \[[> ]{30}\] ' + STATUS, draw)
    assert re.search(r'3/10 images, \d+\.\d img/s, .*ETA 0:00:0\d',
                     draws[1])
    assert draws[-1].startswith('scoring: [' + '>' * 30 + '] 10/10')
    assert len(lines) == 1 and '10 images in' in lines[0]


class _SummaryWriter:
    """What ALVisualizationHook calls of torch's SummaryWriter (tensorboard
    is not a dependency)."""

    def __init__(self):
        self.histograms, self.images = [], []

    def add_histogram(self, tag, values, global_step=None, bins='tf'):
        self.histograms.append((tag, np.asarray(values), global_step, bins))

    def add_image(self, tag, image, global_step=None, dataformats='HWC'):
        self.images.append((tag, image.shape, global_step))


class _Tensorboard(TensorboardVisBackend):

    def _init_env(self):
        self._tensorboard = _SummaryWriter()


def test_histogram_goes_to_tensorboard_and_local_backends(tmp_path):
    visualizer = DetLocalVisualizer(
        name='test_histogram',
        vis_backends=[dict(type='LocalVisBackend'), dict(type=_Tensorboard)],
        save_dir=str(tmp_path))
    scores = np.linspace(0, 1, 20)
    scores[5] = np.nan  # left out
    selection = dict(cycle=3, strategy='EntropyStrategy',
                     pool=np.arange(100, 120), scores=scores,
                     chosen=np.array([19, 18, 5]))
    ALVisualizationHook(histogram_bins=7).log_histogram(
        visualizer, 3, selection)

    writer = visualizer.get_backend('_Tensorboard').experiment
    (tag, pool, step, bins), (tag2, chosen, step2, _) = writer.histograms
    assert (tag, step, bins, tag2, step2) == ('cycle/pool_scores', 3, 7,
                                              'cycle/selected_scores', 3)
    np.testing.assert_allclose(pool, np.delete(scores, 5))
    np.testing.assert_allclose(chosen, scores[[18, 19]])
    assert writer.images == [('pool_scores', (400, 640, 3), 3)]
    png = tmp_path / 'vis_data' / 'vis_image' / 'pool_scores_3.png'
    assert png.read_bytes()[:8] == PNG_MAGIC
    image = cv2.imread(str(png))
    assert image.shape == (400, 640, 3) and image.std() > 10


def test_predicted_boxes_above_the_threshold_are_drawn_scaled():
    visualizer = DetLocalVisualizer(name='test_draw_prediction')
    image = np.full((50, 100, 3), 128, np.uint8)
    prediction = DetDataSample()
    prediction.pred_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 40., 40.], [60., 10., 90., 40.]]),
        scores=torch.tensor([0.9, 0.1]),
        labels=torch.tensor([0, 1]))
    hook = ALVisualizationHook(score_thr=0.3, tile_size=200)
    drawn = hook.draw_prediction(visualizer, image, prediction, ('a', 'b'))
    assert drawn.shape == (100, 200, 3)  # the longer side is tile_size
    changed = np.abs(drawn.astype(int) - 128).sum(-1) > 0
    ys, xs = np.nonzero(changed)
    # the 0.9 box, scaled by 2: (20, 20, 80, 80) plus its line width and
    # label; the 0.1 box (120, 20, 180, 80) is not drawn
    assert 16 <= xs.min() and xs.max() < 120 and 16 <= ys.min()
    assert changed[20:80, 19:22].all() and changed[20:80, 78:81].all()
    assert not changed[:, 120:].any()


def test_a_two_cycle_run_logs_curves_and_pictures(tmp_path, digits_root):
    # an untrained model: keep every detection and score every anchor, so
    # that boxes are drawn and the scores are spread
    run_tiny('configs/entropy_digits.py', tmp_path, digits_root,
             'train_cfg.epochs=1', 'train_cfg.lr_decay_epochs=[]',
             'model.test_cfg.score_thr=0.0',
             'custom_hooks.0.scorer_cfg.box_score_thr=0.0',
             'default_hooks.al_visualization.score_thr=0.0')
    vis_data, = tmp_path.glob('*/vis_data')
    records = [
        json.loads(line)
        for line in (vis_data / 'scalars.json').read_text().splitlines()
    ]
    results = json.loads((tmp_path / 'results.json').read_text())

    per_cycle = [r for r in records if 'cycle/num_labeled' in r]
    assert [r['step'] for r in per_cycle] == [0, 1]
    assert [r['cycle/num_labeled'] for r in per_cycle] == [8, 12]
    assert [r['cycle/num_pool'] for r in per_cycle] == [24, 20]
    for record, result in zip(per_cycle, results):
        for metric in ('pascal_voc/mAP', 'pascal_voc/AP50'):
            assert record[f'cycle/{metric}'] == result['metrics'][metric]
        # the annotation cost and the SL/AL ratio (0: no pseudo labels)
        assert record['cycle/num_labeled_boxes'] == \
            result['num_labeled_boxes'] > 0
        assert record['cycle/sl_al_ratio'] == 0.0

    # the phase's own losses at the iterations LoggerHook logs (every one)
    logged = [r['step'] for r in records if 'loss_cls' in r]
    phase = [r for r in records if 'label/loss_cls' in r]
    assert logged and [r['step'] for r in phase] == logged
    assert all(
        abs(r['label/loss'] - r['label/loss_cls'] - r['label/loss_bbox'])
        < 1e-4 for r in phase)

    images = vis_data / 'vis_image'
    # one selection (after cycle 0; none after the last cycle)
    assert sorted(p.name for p in images.iterdir()) == [
        'pool_scores_0.png', 'selected_images_0.png'
    ]
    for png in images.iterdir():
        assert png.read_bytes()[:8] == PNG_MAGIC
    histogram = cv2.imread(str(images / 'pool_scores_0.png'))
    assert histogram.shape == (400, 640, 3) and histogram.std() > 10
    # the 4 selected images (budget 4 < num_images 8) in one row of
    # 320 px tiles under 18 px captions, 4 px apart
    picture = cv2.imread(str(images / 'selected_images_0.png'))
    assert picture.shape == (18 + 320 + 2 * 4, 4 * (320 + 4) + 4, 3)
    tiles = [picture[22:342, 4 + k * 324:324 + k * 324] for k in range(4)]
    assert all(tile.std() > 5 for tile in tiles)
