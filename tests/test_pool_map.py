"""The pool map (:mod:`al_plugin.service.pool_map`): which images it shows,
their dominant class, the t-SNE, the PNG, and ``tools/analysis/pool_map.py`` on
a tiny real experiment."""
import json

import numpy as np
import pytest
from PIL import Image

from al_plugin.service.pool_map import (cycle_categories, dominant_classes,
                                        draw_pool_map, embed_2d, map_record,
                                        sample_points)
from al_plugin.work_dir import write_indices, write_selection
from .conftest import run_tool
from .test_export import experiment, model_args, pool_paths  # noqa: F401
from .test_package_face import HEAVY, imported_modules

#: the colours of the left panel's labeled squares and selected stars
BLUE, RED = (31, 119, 180), (214, 39, 40)


def blobs(seed=0, per_blob=20, dims=64):
    """Three well separated Gaussian blobs: ``(60, dims)`` rows, blob ids."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (3, dims))
    rows = np.concatenate(
        [c + rng.normal(0, 0.5, (per_blob, dims)) for c in centres])
    return rows, np.repeat(np.arange(3), per_blob)


def colour_pixels(path, rgb, tol=12) -> int:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert('RGB')).astype(int)
    return int((np.abs(pixels - rgb).max(axis=-1) <= tol).sum())


def test_sample_points_keeps_the_picks_and_caps():
    categories = ['selected'] * 3 + ['labeled'] * 50 + ['unlabeled'] * 200
    kept = sample_points(categories, 40, seed=1)
    assert len(kept) == 40 and len(set(kept.tolist())) == 40
    assert np.all(np.diff(kept) > 0)
    assert {0, 1, 2} <= set(kept.tolist())
    np.testing.assert_array_equal(kept, sample_points(categories, 40, 1))
    assert not np.array_equal(kept, sample_points(categories, 40, 2))
    # both other kinds are sampled, about in proportion (50 : 200)
    labeled = int(((kept >= 3) & (kept < 53)).sum())
    assert 1 <= labeled <= 20
    np.testing.assert_array_equal(sample_points(categories, 1000),
                                  np.arange(253))
    # more picks than the cap: a sample of the picks only
    assert set(sample_points(categories, 2).tolist()) <= {0, 1, 2}
    with pytest.raises(ValueError, match=r"unknown categories \['pool'\]"):
        sample_points(['pool', 'labeled'])
    with pytest.raises(ValueError, match='max_points must be >= 1, got 0'):
        sample_points(categories, 0)


def test_dominant_class_is_the_most_confident_candidates():
    rows = [
        # class 1 has the larger sum (1.0), class 0 the top probability
        np.array([[0.7, 0.1, 0.0], [0.0, 0.5, 0.1], [0.1, 0.4, 0.0]]),
        np.zeros((0, 3)),  # no candidate box
        np.array([[0.0, 0.1, 0.7]]),
    ]
    np.testing.assert_array_equal(dominant_classes(rows, 3), [0, -1, 2])


def test_embed_2d_keeps_clusters_apart():
    rows, blob = blobs()
    coords = embed_2d(rows, seed=0)
    assert coords.shape == (60, 2) and np.isfinite(coords).all()
    # every point's nearest neighbour in the map is of its own blob
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert np.all(blob[dist.argmin(axis=1)] == blob)
    np.testing.assert_allclose(embed_2d(rows, seed=0), coords)
    # few points: the PCA's components, no t-SNE
    few = embed_2d(rows[[0, 1, 25]], seed=0)
    assert few.shape == (3, 2) and np.ptp(few[:, 0]) > 0
    np.testing.assert_array_equal(embed_2d(rows[:1]), [[0.0, 0.0]])
    bad = rows.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match='NaN or infinite'):
        embed_2d(bad)


def test_draw_pool_map_draws_every_category(tmp_path):
    rows, blob = blobs()
    categories = np.array(['unlabeled'] * 60, dtype=object)
    categories[:10], categories[30:33] = 'labeled', 'selected'
    record = map_record([f'img{i}' for i in range(60)], categories,
                        embed_2d(rows), blob - (blob == 2) * 3,
                        ['cat', 'dog'], total=dict(unlabeled=900, labeled=10,
                                                   selected=3), seed=0)
    assert record['counts'] == dict(unlabeled=47, labeled=10, selected=3)
    assert record['points'][45]['class'] is None
    assert record['points'][45]['label'] == -1
    assert record['points'][25]['class'] == 'dog'
    json.dumps(record)
    path = draw_pool_map(record, str(tmp_path / 'map.png'))
    with Image.open(path) as image:
        assert image.size == (1200, 540)
    assert colour_pixels(path, RED) > 50
    assert colour_pixels(path, BLUE) > 50
    assert list(tmp_path.iterdir()) == [tmp_path / 'map.png']


def test_cycle_categories(tmp_path):
    write_indices(str(tmp_path), 'X_L', 0, np.array([0, 1]))
    with pytest.raises(FileNotFoundError, match='cycle 0 has no selection '
                       'after it: neither .*selection_1.json nor '
                       '.*X_L_1.npy exists'):
        cycle_categories(str(tmp_path), 0, 6)
    write_indices(str(tmp_path), 'X_L', 1, np.array([0, 1, 4]))
    categories, source = cycle_categories(str(tmp_path), 0, 6)
    assert source.endswith('X_L_1.npy')
    assert categories.tolist() == ['labeled', 'labeled', 'unlabeled',
                                   'unlabeled', 'selected', 'unlabeled']
    # the selection record wins over X_L_1
    write_selection(str(tmp_path), 1, dict(indices=[5, 3], img_ids=['a', 'b'],
                                           tags=['07', '07'], scores=None))
    categories, source = cycle_categories(str(tmp_path), 0, 6)
    assert source.endswith('selection_1.json')
    assert np.flatnonzero(categories == 'selected').tolist() == [3, 5]
    write_selection(str(tmp_path), 1, dict(indices=[1], img_ids=['a'],
                                           tags=['07'], scores=None))
    with pytest.raises(ValueError, match='already in X_L_0'):
        cycle_categories(str(tmp_path), 0, 6)


def test_tool_maps_a_tiny_run(experiment, digits_root, tmp_path):  # noqa: F811
    """The map of cycle 0 of a one-cycle entropy run on the 32 digits
    images: 8 labeled, 4 selected, 20 unlabeled; 20 drawn."""
    out = tmp_path / 'map.png'
    proc = run_tool([
        'tools/analysis/pool_map.py', *model_args(experiment),
        str(experiment), '--cycle', '0', '--max-points', '20', '--out',
        str(out)
    ])
    record = json.loads((tmp_path / 'map.json').read_text())
    counts = record['counts']
    assert (f'cycle 0: {counts["unlabeled"]} unlabeled, {counts["labeled"]} '
            'labeled, 4 selected; 0 unreadable') in proc.stdout
    assert record['total'] == dict(unlabeled=20, labeled=8, selected=4)
    assert sum(record['counts'].values()) == 20
    assert record['counts']['selected'] == 4
    labeled = set(np.load(experiment / 'X_L_0.npy').tolist())
    selection = json.loads((experiment / 'selection_1.json').read_text())
    paths = pool_paths(digits_root)
    for point in record['points']:
        index = point['index']
        expected = ('labeled' if index in labeled else 'selected'
                    if index in selection['indices'] else 'unlabeled')
        assert point['category'] == expected, point
        assert paths[index].endswith(f'/{point["image"]}.jpg')
        assert point['class'] == record['classes'][point['label']]
    coords = np.array([[p['x'], p['y']] for p in record['points']])
    assert np.isfinite(coords).all() and np.ptp(coords, axis=0).min() > 0
    assert colour_pixels(out, RED) > 50 and colour_pixels(out, BLUE) > 20


@pytest.mark.parametrize('case', ['cycle', 'out'])
def test_tool_refuses_bad_arguments(experiment, tmp_path, case):  # noqa: F811
    cycle, out = '0', str(tmp_path / 'map.png')
    if case == 'cycle':
        cycle = '3'
        message = f'--cycle 3: {experiment}/X_L_3.npy does not exist'
    else:
        out = str(tmp_path / 'map.jpg')
        message = f'--out must name a .png file, got {out}'
    proc = run_tool([
        'tools/analysis/pool_map.py', *model_args(experiment),
        str(experiment), '--cycle', cycle, '--out', out
    ], check=False)
    assert proc.returncode != 0 and message in proc.stderr
    assert not list(tmp_path.iterdir())


def test_the_package_imports_light():
    """Drawing, t-SNE and the model stack load when used, not on import."""
    found = sorted(
        m for m in imported_modules('import al_plugin.service.pool_map')
        if m.split('.')[0] in HEAVY + ('sklearn', ))
    assert not found, found[:10]
