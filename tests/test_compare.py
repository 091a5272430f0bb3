"""tools/compare.py runs strategies over seeds; tools/plot_curves.py draws
what it collected; al_plugin.curves aggregates."""
import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from al_plugin.curves import (CurvePoint, curves, fraction_to_reach,
                              paired_differences)
from .conftest import run_tool
from .test_resume import _data_root_options

CONFIG = 'tests/configs/random_digits_tiny.py'


def _row(strategy, seed, cycle, fraction, ap50):
    return dict(strategy=strategy, seed=seed, cycle=cycle,
                labeled_fraction=fraction, AP50=ap50, AP=None,
                metrics={'pascal_voc/mAP': ap50})


def test_curves_mean_and_std_over_seeds():
    rows = [_row('a', 0, 0, 0.1, 0.2), _row('a', 1, 0, 0.1, 0.4),
            _row('a', 0, 1, 0.2, 0.5), _row('b', 0, 0, 0.1, 0.3)]
    out = curves(rows)
    assert list(out) == ['a', 'b']
    assert out['a'][0] == CurvePoint(0, 0.1, pytest.approx(0.3),
                                     pytest.approx(0.1), 2)
    assert out['a'][1].num_seeds == 1
    assert curves(rows, 'pascal_voc/mAP')['b'][0].mean == 0.3


def test_paired_differences_subtract_the_same_seed_and_cycle():
    rows = [_row('random', 0, 0, 0.1, 0.2), _row('random', 1, 0, 0.1, 0.4),
            _row('a', 0, 0, 0.1, 0.25), _row('a', 1, 0, 0.1, 0.49),
            _row('a', 2, 0, 0.1, 0.9),  # no random run for seed 2
            _row('a', 0, 1, 0.2, 0.5)]  # nor for cycle 1
    out = paired_differences(rows)
    assert list(out) == ['a']
    assert out['a'] == [
        CurvePoint(0, 0.1, pytest.approx(0.07), pytest.approx(0.02), 2)
    ]


def test_fraction_to_reach_interpolates():
    curve = [CurvePoint(0, 0.1, 0.2, 0, 1), CurvePoint(1, 0.2, 0.4, 0, 1)]
    assert fraction_to_reach(curve, 0.3) == pytest.approx(0.15)
    assert fraction_to_reach(curve, 0.1) == 0.1
    assert fraction_to_reach(curve, 0.5) is None


@pytest.fixture(scope='module')
def compared(tmp_path_factory, digits_root):
    out = tmp_path_factory.mktemp('compare')
    options = ['--cfg-options', 'train_cfg.cycles=[0,1]'] + \
        _data_root_options(digits_root)
    run_tool(['tools/compare.py', CONFIG, '--names', 'random', '--seeds',
              '0', '1', '--work-dir', str(out)] + options)
    # called again: the finished runs are skipped, not repeated, and the
    # earlier call's runs stay in the outputs
    again = run_tool(['tools/compare.py', CONFIG, '--names', 'random',
                      '--seeds', '1', '--work-dir', str(out)] + options)
    return out, again


def test_compare_collects_every_run(compared):
    out, again = compared
    assert '1 runs, 1 already done' in again.stdout
    assert 'start' not in again.stdout
    rows = list(csv.DictReader((out / 'compare.csv').open()))
    data = json.loads((out / 'compare.json').read_text())
    assert [(r['seed'], r['cycle']) for r in rows] == [
        ('0', '0'), ('0', '1'), ('1', '0'), ('1', '1')]
    for seed in (0, 1):
        run_dir = out / 'random' / f'seed{seed}'
        results = json.loads((run_dir / 'results.json').read_text())
        mine = [r for r in data['rows'] if r['seed'] == seed]
        assert [r['AP50'] for r in mine] == [
            r['metrics']['pascal_voc/mAP'] for r in results]
        assert [r['num_labeled'] for r in mine] == [8, 12]
        assert [r['labeled_fraction'] for r in mine] == [8 / 32, 12 / 32]
        # the seed reached the run: model, training and initial split
        cfg_dump = (run_dir / 'random_digits_tiny.py').read_text()
        assert f'randomness = dict(seed={seed})' in cfg_dump
        assert f'X_S_size=4, seed={seed},' in cfg_dump
    X_L = [np.load(out / 'random' / f'seed{s}' / 'X_L_0.npy') for s in (0, 1)]
    assert not np.array_equal(X_L[0], X_L[1])
    assert all(r['done'] for r in data['runs'])


def test_plot_curves_writes_png_and_svg(compared, tmp_path):
    out, _ = compared
    run_tool(['tools/plot_curves.py', str(out / 'compare.json'), '--out',
              str(tmp_path / 'curves')])
    png = tmp_path / 'curves.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert png.stat().st_size > 10_000
    with Image.open(png) as img:
        assert img.size[0] >= 600 and img.size[1] >= 400
        # not a blank canvas: a line and a band in colour
        assert len(img.convert('RGB').getcolors(1 << 20)) > 50
    root = ET.parse(tmp_path / 'curves.svg').getroot()
    assert root.tag.endswith('svg')
    assert 'random (n=2)' in (tmp_path / 'curves.svg').read_text()
    run_tool(['tools/plot_curves.py', str(out / 'compare.json'), '--out',
              str(tmp_path / 'seed1'), '--seeds', '1'])
    assert 'random (n=1)' in (tmp_path / 'seed1.svg').read_text()


def test_plot_curves_draws_the_gain_over_a_baseline(tmp_path):
    rows = [_row(name, seed, cycle, 0.1 * (cycle + 1), ap)
            for name, offset in (('random', 0), ('a', 0.01))
            for seed in (0, 1)
            for cycle in (0, 1)
            for ap in [0.1 * seed + 0.2 * cycle + offset * cycle]]
    path = tmp_path / 'compare.json'
    path.write_text(json.dumps(dict(rows=rows)))
    run_tool(['tools/plot_curves.py', str(path), '--out',
              str(tmp_path / 'gain'), '--baseline', 'random'])
    svg = (tmp_path / 'gain.svg').read_text()
    assert 'a (n=2)' in svg and 'random (n=' not in svg
    assert 'mAP (IoU 0.5) - random, same seed' in svg
    proc = run_tool(['tools/plot_curves.py', str(path), '--out',
                     str(tmp_path / 'nope'), '--baseline', 'nope'],
                    check=False)
    assert proc.returncode != 0 and '--baseline nope' in proc.stderr
    assert not (tmp_path / 'nope.png').exists()


def test_bad_inputs_name_the_file(tmp_path):
    proc = run_tool(['tools/compare.py', 'configs/nope.py'], check=False)
    assert proc.returncode == 2 and 'configs/nope.py' in proc.stderr
    bad = tmp_path / 'compare.json'
    bad.write_text('{"rows": 3')
    proc = run_tool(['tools/plot_curves.py', str(bad)], check=False)
    assert proc.returncode != 0 and str(bad) in proc.stderr
