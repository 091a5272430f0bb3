"""benchmarks/collect.py puts each benchmark's headline numbers under the
keys of benchmarks/results.json (the redundant pool's under
``redundant_pool``), and says which benchmarks have not run."""
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
    assert out['missing'] == ['selection_scale', 'label_efficiency',
                              'label_efficiency_redundant',
                              'selection_content_redundant']
    assert 'redundant_pool' not in out
    assert out['sources']['cost']['machine'] == 'm'


def test_collect_names_a_file_without_its_keys(tmp_path):
    (tmp_path / 'cost.json').write_text(json.dumps(dict(train_iter_ratio=1)))
    with pytest.raises(KeyError, match='cost.json'):
        collect(str(tmp_path))


def label_efficiency_file(path, final_map, pretrained=True):
    path.write_text(json.dumps(dict(
        label_fraction_to_match_random={'random': 0.225},
        map_per_cycle={'random': [[0.3, 0.01], [final_map, 0.02]]},
        paired_selection_gain={'entropy': dict(mean=0.01, std=0.0, n=3)},
        validation_map={'random': dict(mean=0.4, std=0.01, n=3)},
        boxes_per_cycle={'random': [1500.0, 1800.0]},
        pretrained=pretrained, machine='m', date='d', runs={})))


def test_collect_merges_both_pools(tmp_path):
    label_efficiency_file(tmp_path / 'label_efficiency.json', 0.4)
    label_efficiency_file(tmp_path / 'label_efficiency_redundant.json',
                          0.35, pretrained=False)
    out = collect(str(tmp_path))
    # the default pool's keys at the top level, the redundant pool's
    # under redundant_pool, each from its own file
    assert out['map_per_cycle']['random'][1] == [0.4, 0.02]
    assert out['redundant_pool']['map_per_cycle']['random'][1] == \
        [0.35, 0.02]
    assert out['pretrained'] is True
    assert out['redundant_pool']['pretrained'] is False
    for key in ('paired_selection_gain', 'validation_map',
                'boxes_per_cycle', 'label_fraction_to_match_random'):
        assert out[key] == out['redundant_pool'][key]
    assert 'runs' not in out and 'runs' not in out['redundant_pool']
    assert out['missing'] == ['cost', 'selection_scale',
                              'selection_content_redundant']
    assert out['sources']['label_efficiency_redundant']['file'].endswith(
        'label_efficiency_redundant.json')


def test_collect_lists_a_missing_pool(tmp_path):
    label_efficiency_file(tmp_path / 'label_efficiency_redundant.json',
                          0.35)
    out = collect(str(tmp_path))
    assert 'label_efficiency' in out['missing']
    assert 'map_per_cycle' not in out
    assert out['redundant_pool']['boxes_per_cycle'] == {
        'random': [1500.0, 1800.0]}


def test_collect_names_a_redundant_file_without_its_keys(tmp_path):
    (tmp_path / 'label_efficiency_redundant.json').write_text(
        json.dumps(dict(map_per_cycle={})))
    with pytest.raises(KeyError, match='label_efficiency_redundant.json'):
        collect(str(tmp_path))


def test_collect_takes_the_duplicate_rate_of_the_redundant_pool(tmp_path):
    def stats(rate):
        return dict(mean=dict(images=400.0, duplicate_rate=rate),
                    per_seed={'0': dict(duplicate_rate=rate)})

    (tmp_path / 'selection_content_redundant.json').write_text(json.dumps(
        dict(strategies=dict(random=stats(0.67), coreset=stats(0.25)),
             machine='m', date='d')))
    out = collect(str(tmp_path))
    assert out['redundant_pool']['duplicate_rate'] == dict(random=0.67,
                                                           coreset=0.25)
    assert 'selection_content_redundant' not in out['missing']
    # a file of another shape is named, not half-read
    (tmp_path / 'selection_content_redundant.json').write_text(json.dumps(
        dict(strategies=dict(random=dict(mean=dict(images=400.0))))))
    with pytest.raises(KeyError, match='selection_content_redundant.json'):
        collect(str(tmp_path))
