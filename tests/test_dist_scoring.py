"""Pool scoring sharded over 2 gloo ranks gives the scores and the selection
of 1 rank, also when the shards are uneven (the sampler pads one rank)."""
import json
import shutil

import numpy as np

from .conftest import run_tool
from .test_dist_train import _free_port
from .test_resume import _data_root_options

CONFIG = 'tests/configs/miaod_digits_tiny_probes.py'
# |X_L_0| = 7 of 32: a pool of 25 images, scored in batches of 4. One rank:
# 6 batches of 4 and one of 1; two ranks: 13 images each (the sampler pads
# rank 1 with a repeat of the first image), 3 batches of 4 and one of 1.
OPTIONS = [
    'train_cfg.cycles=[0]', 'train_cfg.splitter.X_L_0_size=7',
    'custom_hooks.0.select_after_last=True'
]


def _scoring(work_dir, rank):
    """world size, batch sizes and pool scores of cycle 0 on ``rank``."""
    record = json.loads((work_dir / f'scoring_rank{rank}.json').read_text())
    return (record['world_size'], record['batches']['0'],
            np.array(record['scores']['0']))


def test_two_ranks_score_and_select_as_one(tmp_path, digits_root):
    one, two = tmp_path / 'one_rank', tmp_path / 'two_ranks'
    options = OPTIONS + _data_root_options(digits_root)
    # 1 rank: train cycle 0, score its pool, select
    run_tool(['tools/train.py', CONFIG, '--work-dir',
              str(one), '--cfg-options'] + options)
    # 2 ranks: the same weights (cycle 0's last epoch checkpoint, taken
    # before the scoring), scored and selected again
    two.mkdir()
    shutil.copy(one / 'al_initial_weights.pth', two)
    proc = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
                     str(two), '--resume',
                     str(one / 'epoch_4.pth'), '--cfg-options'] + options,
                    env={'PORT': str(_free_port())})
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 4,' in log and 'Epoch(train)' not in log

    world_size, batches, scores = _scoring(one, 0)
    assert (world_size, batches) == (1, [4, 4, 4, 4, 4, 4, 1])
    assert scores.shape == (25, ) and len(np.unique(scores)) == 25
    for rank in (0, 1):
        world_size, batches, rank_scores = _scoring(two, rank)
        assert (world_size, batches) == (2, [4, 4, 4, 1])
        # gathered back in pool order, the padded repeat dropped; batches
        # of other images give the same numbers up to float rounding (the
        # scores are means of squared differences of close probabilities:
        # up to 1e-5 relative here, while images differ by > 2e-3)
        np.testing.assert_allclose(rank_scores, scores, rtol=1e-4, atol=0)

    a, b = (json.loads((d / 'selection_1.json').read_text())
            for d in (one, two))
    assert len(a['indices']) == 4
    assert b['indices'] == a['indices'] and b['img_ids'] == a['img_ids']
    np.testing.assert_allclose(b['scores'], a['scores'], rtol=1e-4, atol=0)
    for name in ('X_L_1.npy', 'X_U_1.npy'):
        assert (one / name).read_bytes() == (two / name).read_bytes()
