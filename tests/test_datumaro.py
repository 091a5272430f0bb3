"""The built-in data set and a selection export open in datumaro (CVAT's
dataset library, which CVAT imports VOC and COCO with), with no error and
no warning.

datumaro pins its own dependencies, so it is installed with pycocotools into
a venv of its own outside the clone,
``${AL_PLUGIN_CACHE:-~/.cache/al_plugin}/datumaro-venv``, made once and
reused; the imports run there through ``tests/datumaro_import.py``. The test
skips, saying why, when the package registry cannot be reached to make that
venv.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from al_plugin.engine.export import to_coco, write_export
from al_plugin.utils import cache_root

from .conftest import REPO

#: what the datumaro venv holds; a venv made for other pins is remade
REQUIREMENTS = ('datumaro==1.13.12', 'pycocotools==2.0.11')
HELPER = osp.join(REPO, 'tests', 'datumaro_import.py')
DIGITS = [str(i) for i in range(10)]


def _run(cmd, timeout):
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True,
        timeout=timeout)


def _tail(proc) -> str:
    return (proc.stdout + proc.stderr).strip()[-1500:]


def registry_problem() -> str:
    """Why the package registry cannot be reached ('' when it can): asks it
    for datumaro's versions, with pip's configuration and no retry."""
    probe = _run([sys.executable, '-m', 'pip', 'index', 'versions',
                  'datumaro', '--timeout', '20', '--retries', '0'], 120)
    if probe.returncode == 0:
        return ''
    lines = _tail(probe).splitlines()
    errors = [line for line in lines if 'ERROR' in line or 'Error' in line]
    return ' / '.join(errors or lines)[-400:]


def make_datumaro_venv(venv: str) -> str:
    """The python of the datumaro venv at ``venv``, made when missing or
    stale.

    The venv is built in a temporary folder beside it and renamed when pip
    is done, with a record of :data:`REQUIREMENTS`, so a broken install is
    never reused. Skips the test when the registry cannot be reached.
    """
    python = osp.join(venv, 'bin', 'python')
    record = osp.join(venv, 'al_plugin-requirements.txt')
    wanted = ''.join(f'{r}\n' for r in REQUIREMENTS)

    def ready() -> bool:
        try:
            with open(record) as f:
                return f.read() == wanted and osp.isfile(python)
        except OSError:
            return False

    if ready():
        return python
    problem = registry_problem()
    if problem:
        pytest.skip('datumaro tests skipped: the package registry cannot be '
                    f'reached to install datumaro into {venv} (pip index '
                    f'versions datumaro said: {problem})')
    tmp = f'{venv}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        made = _run([sys.executable, '-m', 'venv', tmp], 300)
        assert made.returncode == 0, f'python -m venv {tmp}:\n{_tail(made)}'
        install = _run([osp.join(tmp, 'bin', 'python'), '-m', 'pip',
                        'install', '--timeout', '60', *REQUIREMENTS], 1200)
        assert install.returncode == 0, (
            f'pip install {" ".join(REQUIREMENTS)} into {tmp} failed:\n'
            f'{_tail(install)}')
        with open(osp.join(tmp, osp.basename(record)), 'w') as f:
            f.write(wanted)
        shutil.rmtree(venv, ignore_errors=True)
        try:
            os.rename(tmp, venv)
        except OSError:  # another session renamed its venv first
            if not ready():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return python


@pytest.fixture(scope='module')
def datumaro_python():
    """The datumaro venv's python (made once, then reused)."""
    return make_datumaro_venv(osp.join(cache_root(), 'datumaro-venv'))


def datumaro_import(python, sources):
    """Import each ``(format, path)`` with datumaro; the helper's report.

    Fails, showing the report, when any import has an error, a warning, an
    image that is not there or an annotation other than a box.
    """
    proc = _run([python, HELPER] +
                [f'{fmt}={path}' for fmt, path in sources], 600)
    try:
        reports = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f'{HELPER} exited {proc.returncode}:\n{_tail(proc)}')
    assert proc.returncode == 0, json.dumps(reports, indent=1)[-6000:]
    assert [(r['format'], r['path']) for r in reports] == [
        (fmt, str(path)) for fmt, path in sources]
    return reports


def summary(report: dict) -> dict:
    """What is compared with the files: images, labels, boxes per label."""
    return dict(images=report['images'], labels=report['labels'],
                boxes=report['boxes'],
                boxes_per_label=report['boxes_per_label'])


def expected(images: int, labels, box_labels) -> dict:
    per_label = Counter(box_labels)
    return dict(images=images, labels=list(labels), boxes=len(box_labels),
                boxes_per_label=dict(sorted(per_label.items())))


def voc_expected(*year_folders) -> dict:
    """Images, classes and boxes of VOC year folders, read from the files:
    the images listed in ``ImageSets/Main``, the boxes of their XML."""
    names, boxes = [], []
    for folder in year_folders:
        main = folder / 'ImageSets' / 'Main'
        for subset in sorted(main.glob('*.txt')):
            names += [(folder, n) for n in subset.read_text().split()]
    for folder, name in names:
        xml = ET.parse(folder / 'Annotations' / f'{name}.xml')
        boxes += [obj.find('name').text for obj in xml.iter('object')]
    return expected(len(names), DIGITS, boxes)


def coco_expected(*jsons) -> dict:
    """Images, classes and boxes of COCO jsons (sharing categories)."""
    images, boxes = 0, []
    for path in jsons:
        with open(path) as f:
            coco = json.load(f)
        names = {c['id']: c['name'] for c in coco['categories']}
        images += len(coco['images'])
        boxes += [names[a['category_id']] for a in coco['annotations']]
    labels = [c['name'] for c in sorted(coco['categories'],
                                        key=lambda c: c['id'])]
    return expected(images, labels, boxes)


def test_builtin_set_opens_in_datumaro(datumaro_python, digits_root):
    voc = digits_root / 'VOCdevkit'
    years = [voc / 'DIGITS2007', voc / 'DIGITS2012']
    jsons = [digits_root / 'annotations' / f'instances_{subset}.json'
             for subset in ('trainval', 'test')]
    sources = [('voc', year) for year in years] + [('voc', voc)]
    sources += [('coco_instances', path) for path in jsons]
    sources += [('coco', digits_root)]
    reports = datumaro_import(datumaro_python, sources)

    got = [summary(r) for r in reports]
    assert got[0] == voc_expected(years[0])
    assert got[1] == voc_expected(years[1])
    assert got[2] == voc_expected(*years)  # the whole VOCdevkit at once
    assert got[3] == coco_expected(jsons[0])
    assert got[4] == coco_expected(jsons[1])
    assert got[5] == coco_expected(*jsons)  # the COCO root at once
    # the VOC and COCO sides hold the same images and boxes
    assert got[2] == got[5]
    assert got[0]['boxes'] > got[0]['images'] > 0
    assert len(got[0]['boxes_per_label']) > 1


def _image(path, width, height):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (width, height), (90, 120, 40)).save(path)
    return str(path)


def test_selection_export_opens_in_datumaro(datumaro_python, tmp_path):
    # COCO's layout: the export's json under annotations/, its image_root
    # as images/
    images = tmp_path / 'images'
    records = [
        dict(id=3, img_path=_image(images / 'cam0' / 'a.jpg', 40, 30),
             height=30, width=40,
             bboxes=[[2, 3, 20, 25], [10, 10, 55, 50], [5, 5, 7, 7],
                     [30, 5, 30, 9]],
             scores=[0.9, 0.6, 0.1, 0.8],  # 0.1: below score_thr;
             labels=[0, 2, 1, 1],  # the last box has no width
             meta=dict(img_id='cam0/a')),
        dict(id=7, img_path=_image(images / 'cam1' / 'b.jpg', 24, 24),
             height=24, width=24, bboxes=np.zeros((0, 4)),
             scores=np.zeros(0), labels=np.zeros(0, dtype=np.int64)),
        dict(id=8, img_path=_image(images / 'c.jpg', 32, 48), height=48,
             width=32, bboxes=[[1, 1, 9, 9]], scores=[0.5], labels=[1]),
    ]
    coco = to_coco(records, ('cat', 'dog', 'bird'), score_thr=0.3,
                   image_root=str(images))
    json_path, _ = write_export(str(tmp_path / 'export'), 'selection_1',
                                coco)
    (tmp_path / 'annotations').mkdir()
    layout_json = tmp_path / 'annotations' / 'instances_selection_1.json'
    shutil.copy(json_path, layout_json)
    assert [a['segmentation'] for a in coco['annotations']] == [[]] * 3

    report, = datumaro_import(datumaro_python,
                              [('coco_instances', layout_json)])
    assert summary(report) == coco_expected(layout_json) == expected(
        3, ['cat', 'dog', 'bird'], ['cat', 'bird', 'dog'])
