"""Tests of ``tools/make_digits_redundant.py``: a pool made of bursts."""
import hashlib
import importlib.util
import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from PIL import Image

from al_plugin.datasets import DigitsCocoDataset, DigitsVOCDataset

ROOT = Path(__file__).resolve().parents[1]
SMALL = ['--min-size', '40', '--max-size', '56']
# the burst flags of the ``pool`` fixture
BURSTS = ['--burst-alpha', '1.5', '--max-burst', '40', '--max-shift', '5',
          '--max-scale', '0.08', '--max-brightness', '0.2']
NUM_TRAINVAL, NUM_TEST = 150, 12


def _load_tool():
    path = ROOT / 'tools' / 'make_digits_redundant.py'
    spec = importlib.util.spec_from_file_location('make_digits_redundant',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mdr = _load_tool()
mdd = mdr.mdd


def _make(out, *flags):
    mdr.main(['--out', str(out), *SMALL, *flags])
    return Path(out)


@pytest.fixture(scope='module')
def pool(tmp_path_factory):
    out = tmp_path_factory.mktemp('redundant') / 'digits'
    return _make(out, '--num-trainval', str(NUM_TRAINVAL), '--num-test',
                 str(NUM_TEST), *BURSTS)


def _json(path):
    return json.loads(Path(path).read_text())


def _bursts(root):
    return _json(root / 'bursts.json')


def _hash_tree(root):
    return {
        str(path.relative_to(root)):
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob('*')) if path.is_file()
    }


def _voc_names(root, year, subset):
    path = root / 'VOCdevkit' / f'DIGITS{year}' / 'ImageSets' / 'Main'
    return (path / f'{subset}.txt').read_text().split()


def _voc_objects(root, year, name):
    xml = root / 'VOCdevkit' / f'DIGITS{year}' / 'Annotations' / f'{name}.xml'
    return ET.parse(xml).findall('object')


def test_same_seed_same_files(tmp_path):
    flags = ['--num-trainval', '16', '--num-test', '4', *BURSTS]
    first = _hash_tree(_make(tmp_path / 'a', *flags))
    # 20 images, their xml and their links in images/, 3 image sets,
    # 2 labelmap.txt, 2 COCO files, 2 json
    assert len(first) == 3 * 20 + 3 + 2 + 2 + 2
    assert first == _hash_tree(_make(tmp_path / 'b', *flags))
    other = _hash_tree(_make(tmp_path / 'c', *flags, '--seed', '1'))
    assert other['bursts.json'] != first['bursts.json']
    assert other['annotations/instances_trainval.json'] != \
        first['annotations/instances_trainval.json']


def test_every_trainval_image_is_in_one_burst(pool):
    bursts = _bursts(pool)
    coco = _json(pool / 'annotations' / 'instances_trainval.json')
    assert coco['info']['description'] == 'digits_redundant'
    records = {im['id']: im for im in bursts['images']}
    assert [im['id'] for im in coco['images']] == list(records)
    assert len(records) == NUM_TRAINVAL
    for image in coco['images']:
        record = records[image['id']]
        assert image['file_name'] == record['file_name']
        assert (image['burst_id'], image['burst_index']) == \
            (record['burst_id'], record['burst_index'])
        assert (pool / image['file_name']).is_file()
    # a burst is consecutive images of one year and one frame size
    assert [b['id'] for b in bursts['bursts']] == \
        list(range(len(bursts['bursts'])))
    assert sum(b['length'] for b in bursts['bursts']) == NUM_TRAINVAL
    for burst in bursts['bursts']:
        frames = [records[burst['first_image'] + i]
                  for i in range(burst['length'])]
        assert [f['burst_id'] for f in frames] == [burst['id']] * len(frames)
        assert [f['burst_index'] for f in frames] == list(range(len(frames)))
        assert {f['file_name'].split('/')[1] for f in frames} == \
            {f'DIGITS{burst["year"]}'}
        for frame in frames:
            with Image.open(pool / frame['file_name']) as img:
                assert img.size == (burst['width'], burst['height'])
        assert burst['scene_width'] > burst['width']
        assert burst['scene_height'] > burst['height']
    # far fewer distinct scenes than images
    assert len(bursts['bursts']) < NUM_TRAINVAL / 2


def test_frame_changes_are_bounded(pool):
    images = _bursts(pool)['images']
    shifts = np.array([im['shift'] for im in images])
    assert np.abs(shifts).max() == 5
    assert (shifts != 0).any(axis=1).mean() > 0.5
    scales = np.array([im['scale'] for im in images])
    assert np.all(np.abs(scales - 1) <= 0.08)
    assert scales.std() > 0.02
    gains = np.array([im['gain'] for im in images])
    assert np.all(np.abs(gains - 1) <= 0.2)
    assert np.all(np.abs([im['bias'] for im in images]) <= 0.1)
    for _ in range(200):
        frame = mdr.draw_frame(np.random.default_rng(_), 2, 0.01, 0.0)
        assert max(map(abs, frame.shift)) <= 2
        assert abs(frame.scale - 1) <= 0.01 and frame.gain == 1


def _blocks(pixels):
    """4 x 4 block means of an RGB image (pixel noise mostly cancels)."""
    height, width = pixels.shape[0] // 4, pixels.shape[1] // 4
    image = Image.fromarray(np.uint8(np.clip(pixels + 0.5, 0, 255)))
    return np.asarray(image.resize((width, height), Image.BOX), np.float32)


def test_frames_of_a_burst_show_its_scene(pool):
    """Every frame is its burst's base scene seen through the frame that
    bursts.json records, up to pixel noise and JPEG."""
    _, plans = mdr.plan_bursts(NUM_TRAINVAL, NUM_TEST, 0.02, 0, 1.5, 40)
    banks = mdd.glyph_banks(0)
    probs = mdd.class_probs(10.0, 0)
    records = {im['id']: im for im in _bursts(pool)['images']}
    checked = 0
    for plan in plans[:20]:
        scene = mdr.render_burst_scene(plan, 0, 40, 56, 5, 0.08,
                                       banks['trainval'], probs)
        scene_shape = (scene.image.height, scene.image.width)
        height, width = scene.frame_shape

        def seen(frame):
            box = mdr.crop_box(scene_shape, scene.frame_shape, frame)
            view = scene.image.resize((width, height), Image.BILINEAR,
                                      box=box)
            return _blocks(
                np.asarray(view, np.float32) * frame.gain + frame.bias * 255)

        for number in plan.numbers:
            record = records[number]
            with Image.open(pool / record['file_name']) as img:
                actual = _blocks(np.asarray(img, np.float32))
            frame = mdr.Frame(tuple(record['shift']), record['scale'],
                              record['gain'], record['bias'])
            error = np.abs(actual - seen(frame)).mean()
            # the same scene 3 pixels away is much further
            dx = frame.shift[0] + (3 if frame.shift[0] <= 0 else -3)
            moved = np.abs(actual - seen(frame._replace(shift=(
                dx, frame.shift[1])))).mean()
            assert error < 8 and error < moved / 1.4
            checked += 1
    assert checked > 40


def test_frame_boxes_follow_shift_scale_and_clip():
    scene, frame_shape = (100, 120), (80, 100)
    # square 10 x 10 glyphs of full ink at (top, left) on the scene
    inks = [(np.ones((10, 10), np.float32), top, left)
            for top, left in ((40, 50), (5, 3), (0, 0))]
    labels = [3, 7, 1]

    def digits(shift=(0, 0), scale=1.0):
        frame = mdr.Frame(shift, scale, 1.0, 0.0)
        box = mdr.crop_box(scene, frame_shape, frame)
        return mdr.frame_digits(inks, labels, scene, frame_shape, box)

    # the base frame shows scene pixels 10..109 x 10..89
    objects, dropped = digits()
    assert dropped == 1  # the glyph at (0, 0) lies outside
    assert objects[0] == mdd.DigitObject(3, (40, 30, 49, 39), False, False)
    # 3 of 10 columns and 5 of 10 rows inside: 15 % of the ink, ignored
    assert objects[1] == mdd.DigitObject(7, (0, 0, 2, 4), True, True)
    assert len(objects) == 2

    # the frame moves right and up by (4, -3): the digits move the other way
    objects, _ = digits(shift=(4, -3))
    assert objects[0] == mdd.DigitObject(3, (36, 33, 45, 42), False, False)
    # moving left and up by 5 brings 80 % of the second digit in, and a
    # corner (25 %) of the third one
    objects, dropped = digits(shift=(-5, -5))
    assert dropped == 0
    assert objects[1] == mdd.DigitObject(7, (0, 0, 7, 9), False, True)
    assert objects[2] == mdd.DigitObject(1, (0, 0, 4, 4), True, True)

    # zooming in by 25 % around the centre scales the box about it
    objects, _ = digits(scale=1.25)
    x0, y0, x1, y1 = objects[0].box
    assert (x1 - x0 + 1, y1 - y0 + 1) in ((12, 12), (13, 13))
    assert abs((x0 + x1 + 1) / 2 - (50 + (55 - 60) * 1.25)) <= 1
    assert abs((y0 + y1 + 1) / 2 - (40 + (45 - 50) * 1.25)) <= 1


def _voc_pool(root, subset):
    datasets = [
        DigitsVOCDataset(
            data_root=str(root / 'VOCdevkit'),
            ann_file=f'DIGITS{year}/ImageSets/Main/{subset}.txt',
            data_prefix=dict(sub_data_root=f'DIGITS{year}/'),
            filter_cfg=None,
            test_mode=True,
            pipeline=[])
        for year in (('2007', ) if subset == 'test' else ('2007', '2012'))
    ]
    return ConcatDataset(datasets)


def test_voc_and_coco_agree(pool):
    voc = _voc_pool(pool, 'trainval')
    coco = DigitsCocoDataset(
        data_root=str(pool),
        ann_file='annotations/instances_trainval.json',
        data_prefix=dict(img=''),
        filter_cfg=None,
        test_mode=True,
        pipeline=[])
    assert len(voc) == len(coco) == NUM_TRAINVAL
    counts = {'voc': Counter(), 'coco': Counter()}
    for i in range(len(voc)):
        v, c = voc.get_data_info(i), coco.get_data_info(i)
        assert int(v['img_id']) == c['img_id']
        assert (v['height'], v['width']) == (c['height'], c['width'])
        for key, info in (('voc', v), ('coco', c)):
            counts[key].update((inst['bbox_label'], inst['ignore_flag'])
                               for inst in info['instances'])
            for inst in info['instances']:
                x0, y0, x1, y1 = inst['bbox']
                assert 0 <= x0 < x1 < info['width']
                assert 0 <= y0 < y1 < info['height']
    assert counts['voc'] == counts['coco']
    assert len({label for label, _ in counts['voc']}) == 10
    # the XML marks the boxes bursts.json counts as truncated
    truncated = sum(
        int(obj.find('truncated').text) for year in ('2007', '2012')
        for name in _voc_names(pool, year, 'trainval')
        for obj in _voc_objects(pool, year, name))
    assert truncated == sum(im['truncated'] for im in _bursts(pool)['images'])
    assert truncated > 0


def test_statistics_match_the_files(pool):
    tasks, plans = mdr.plan_bursts(NUM_TRAINVAL, NUM_TEST, 0.02, 0, 1.5, 40)
    records = {'trainval': [], 'test': []}
    for task in tasks:
        objects = [
            mdd.DigitObject(int(o.find('name').text), (0, 0, 1, 1), False)
            for o in _voc_objects(pool, task.year, task.name)
        ]
        records[task.subset].append((task, (1, 1), objects))
    bursts = _bursts(pool)
    stats = mdr.burst_statistics(records, bursts)
    assert stats['scenes'] == len(plans) == len(bursts['bursts'])
    assert [len(p.numbers) for p in plans] == \
        [b['length'] for b in bursts['bursts']]
    assert sum(row[2] for row in stats['length_histogram']) == len(plans)
    assert sum(row[3] for row in stats['length_histogram']) == NUM_TRAINVAL
    assert stats['longest'] == max(len(p.numbers) for p in plans)
    coco = _json(pool / 'annotations' / 'instances_trainval.json')
    boxes = Counter(a['category_id'] - 1 for a in coco['annotations'])
    for c, name in enumerate(mdd.CLASSES):
        counts = stats['classes'][name]
        assert counts['boxes'] == boxes[c]
        assert counts['bursts'] <= counts['images'] <= counts['boxes']
    summary = mdr.format_summary((records, bursts), 1.0)
    assert f'{NUM_TRAINVAL} images of {len(plans)} distinct scenes' in summary


def test_test_split_is_the_default_pools(pool, tmp_path):
    default = tmp_path / 'default'
    mdd.main(['--out', str(default), *SMALL, '--num-trainval',
              str(NUM_TRAINVAL), '--num-test', str(NUM_TEST)])
    names = _voc_names(pool, '2007', 'test')
    assert names == _voc_names(default, '2007', 'test')
    assert len(names) == NUM_TEST
    for name in names:
        for folder, ext in (('JPEGImages', 'jpg'), ('Annotations', 'xml')):
            rel = Path('VOCdevkit', 'DIGITS2007', folder, f'{name}.{ext}')
            assert (pool / rel).read_bytes() == (default / rel).read_bytes()
    coco = _json(pool / 'annotations' / 'instances_test.json')
    ref = _json(default / 'annotations' / 'instances_test.json')
    assert coco['images'] == ref['images']
    assert coco['annotations'] == ref['annotations']
    # no burst metadata on test images, no test image in a burst
    assert not any('burst_id' in im for im in coco['images'])
    test_ids = {im['id'] for im in coco['images']}
    assert not test_ids & {im['id'] for im in _bursts(pool)['images']}
    # while the trainval images differ from the default pool's
    assert (pool / 'annotations' / 'instances_trainval.json').read_bytes() \
        != (default / 'annotations' / 'instances_trainval.json').read_bytes()


def test_burst_lengths_are_long_tailed():
    rng = np.random.default_rng(0)
    lengths = np.array(mdr.burst_lengths(rng, 40000, 1.8, 200))
    assert lengths.sum() == 40000 and lengths.max() <= 200
    probs = mdr.burst_length_probs(1.8, 200)
    assert np.mean(lengths == 1) == pytest.approx(probs[0], abs=0.03)
    # many short bursts, a few very long ones that hold many images
    assert np.mean(lengths <= 2) > 0.6
    assert 0 < np.mean(lengths >= 50) < 0.05
    assert lengths[lengths >= 50].sum() / lengths.sum() > 0.2
    # a smaller exponent gives longer bursts
    longer = mdr.burst_lengths(np.random.default_rng(0), 40000, 1.2, 200)
    assert len(longer) < len(lengths)
    assert mdr.burst_lengths(rng, 7, 2.0, 1) == [1] * 7


def test_pool_root_and_read_bursts(pool, tmp_path):
    image = pool / 'VOCdevkit' / 'DIGITS2012' / 'JPEGImages' / '000100.jpg'
    assert mdr.pool_root(str(image)) == str(pool)
    assert mdr.pool_root('/a/b/c.jpg') is None
    bursts = mdr.read_bursts(str(pool))
    assert len(bursts) == NUM_TRAINVAL
    assert mdr.read_bursts(str(tmp_path)) is None
    (tmp_path / 'bursts.json').write_text('{"images": [{"id": 1}]}')
    with pytest.raises(ValueError, match='bursts.json'):
        mdr.read_bursts(str(tmp_path))


@pytest.mark.parametrize('flags, message', [
    (['--max-shift', '11'], '--max-shift'),
    (['--max-shift', '-1'], '--max-shift'),
    (['--max-scale', '0.3'], '--max-scale'),
    (['--max-brightness', '-0.1'], '--max-brightness'),
    (['--burst-alpha', '0'], '--burst-alpha'),
    (['--max-burst', '0'], '--max-burst'),
    (['--min-size', '20'], '--min-size'),
])
def test_bad_options(flags, message, capsys):
    with pytest.raises(SystemExit):
        mdr.parse_args(SMALL + flags)
    assert message in capsys.readouterr().err


def test_other_pool_in_out_dir_is_not_replaced(tmp_path):
    flags = ['--num-trainval', '4', '--num-test', '1']
    out = _make(tmp_path / 'digits', *flags)
    assert _json(out / 'meta.json')['pool'] == 'redundant'
    with pytest.raises(SystemExit, match='--force'):
        mdd.main(['--out', str(out), *SMALL, *flags])
    assert (out / 'bursts.json').is_file()
