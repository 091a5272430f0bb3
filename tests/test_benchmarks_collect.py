"""benchmarks/collect.py puts each benchmark's headline numbers under the
keys of benchmarks/results.json, and says which benchmarks have not run."""
import json

import pytest

from benchmarks.collect import collect


def test_collect_takes_the_keys_and_lists_what_is_missing(tmp_path):
    (tmp_path / 'cost.json').write_text(json.dumps(dict(
        scoring_vs_predict_ratio=0.8, scoring_vs_reference_ratio=0.5,
        train_iter_ratio=1.2, train_iter_ratio_r50=1.1, machine='m',
        date='d', other=1)))
    out = collect(str(tmp_path))
    assert out['scoring_vs_predict_ratio'] == 0.8
    assert out['train_iter_ratio'] == 1.2
    assert out['train_iter_ratio_r50'] == 1.1
    assert 'other' not in out
    assert out['missing'] == ['selection_scale', 'label_efficiency']
    assert out['sources']['cost']['machine'] == 'm'


def test_collect_names_a_file_without_its_keys(tmp_path):
    (tmp_path / 'cost.json').write_text(json.dumps(dict(train_iter_ratio=1)))
    with pytest.raises(KeyError, match='cost.json'):
        collect(str(tmp_path))
