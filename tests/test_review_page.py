"""The review page of the selection service (``GET /``), on the real
service with a token, after a real select job on a tiny model: the job's
pool map, the page's data and thumbnails, the token cookie, and the page
itself in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed with apt when missing; selenium).

``REVIEW_SCREENSHOT=docs/review_page.png`` also writes the browser's
screenshot there (it is always written into the test's tmp folder)."""
import io
import json
import os
import shutil
import subprocess
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from .test_service import Service, labels_of, service_tree

TOKEN = 'review-token'
BUDGET = 5
#: the first images of the ground truth, labeled already
NUM_LABELED = 8
#: the untrained model scores its boxes about 0.01: keep its best 3
REVIEW_CONFIG = """_base_ = ['./entropy_digits.py']
model = dict(test_cfg=dict(score_thr=0.0, max_per_img=3))
"""


@pytest.fixture(scope='module')
def review(tmp_path_factory, digits_root):
    """A service with a token over the 32 digits images (8 labeled) plus a
    corrupt one, and a finished select job of 5 on a one-cycle model."""
    tree = service_tree(tmp_path_factory.mktemp('review'), digits_root)
    work, data, run_dir, gt = (tree[k] for k in ('work', 'data', 'run', 'gt'))
    (run_dir / 'review_digits.py').write_text(REVIEW_CONFIG)
    labeled = [i['file_name'] for i in gt['images'][:NUM_LABELED]]
    (data / 'labels.json').write_text(json.dumps(labels_of(gt, labeled)))
    service = Service(work, data, run_dir, '--token', TOKEN)
    service.client.headers['Authorization'] = f'Bearer {TOKEN}'
    answer = service.client.post('/select', json=dict(
        images='pool', labeled='labels.json', config='review_digits.py',
        checkpoint='run/cycle_0.pth', budget=BUDGET, seed=3, score_thr=0.0))
    assert answer.status_code == 202, answer.text
    job = service.wait(answer.json()['id'])
    assert job['state'] == 'done', (job, service.output())
    yield dict(service=service, job=job, work=work, data=data,
               labeled=[f'pool/{name}' for name in labeled])
    service.stop()


def test_select_job_draws_the_pool_map(review):
    """Every readable image is on the map (33 less the corrupt one: under
    the 500 cap), in its category."""
    client, result = review['service'].client, review['job']['result']
    record = client.get('/files/' + result['exports']['pool_map']).json()
    picked = [s['image'] for s in result['selected']]
    assert len(picked) == BUDGET
    assert record['total'] == dict(labeled=NUM_LABELED, selected=BUDGET,
                                   unlabeled=32 - NUM_LABELED - BUDGET)
    assert record['counts'] == record['total'] and record['broken'] == []
    for point in record['points']:
        expected = ('labeled' if point['image'] in review['labeled'] else
                    'selected' if point['image'] in picked else 'unlabeled')
        assert point['category'] == expected, point
        assert point['class'] in [str(d) for d in range(10)]
    assert 'pool/zz_broken.jpg' not in {p['image'] for p in record['points']}
    png = client.get('/files/' + result['exports']['pool_map_png'])
    assert png.headers['content-type'] == 'image/png'
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.size == (1200, 540)
        assert np.asarray(image.convert('L')).std() > 5


def test_review_data_and_thumbnails(review):
    client, result = review['service'].client, review['job']['result']
    data = client.get('/review/data').json()
    assert data['job'] == review['job']['id'] and data['jobs'] == [data['job']]
    assert [p['image'] for p in data['selected']] == [
        s['image'] for s in result['selected']]
    for pick in data['selected']:
        assert pick['size'] == [64, 64] and len(pick['boxes']) == 3
        assert pick['thumb'] == f'thumbs/{pick["image"]}'
    histogram = data['histogram']
    assert len(histogram['edges']) == 21
    assert sum(histogram['counts']) == 32 - NUM_LABELED  # the corrupt one
    assert sum(histogram['selected']) == BUDGET          # has no score
    assert np.all(np.array(histogram['selected']) <= histogram['counts'])
    # every pick scores at least as high as the rest (entropy, top-B)
    assert histogram['selected'][-1] > 0
    assert set(data['files']) == {'coco', 'images', 'pool_map',
                                  'pool_map_png'}
    assert data['pool_map'] == data['files']['pool_map_png']
    assert client.get('/review/data?job=bogus').status_code == 404

    thumbs = review['work'] / 'service' / 'thumbs'
    name = data['selected'][0]['image']
    for _ in range(2):  # made once, then served from the cache
        answer = client.get(f'/thumbs/{name}?size=32')
        assert answer.status_code == 200, answer.text
        with Image.open(io.BytesIO(answer.content)) as image:
            assert image.format == 'JPEG' and image.size == (32, 32)
        assert len(list(thumbs.iterdir())) == 1
    assert client.get(f'/thumbs/{name}?size=5000').status_code == 422
    broken = client.get('/thumbs/pool/zz_broken.jpg')
    assert broken.status_code == 422 and broken.json()['field'] == 'path'
    assert client.get('/thumbs/labels.json').status_code == 422
    assert client.get('/thumbs/pool/nope.jpg').status_code == 404
    for path in ('/thumbs/..%2fwork/run/cycle_0.pth',
                 '/thumbs/pool%2f..%2f..%2fwork%2frun%2fcycle_0.pth'):
        assert client.get(path).status_code == 403, path


def test_the_page_takes_the_token_once(review):
    """``/?token=`` sets an HttpOnly cookie that GET requests may use in
    place of the header; nothing else works without the token."""
    with httpx.Client(base_url=review['service'].url) as bare:
        for path in ('/', '/review/data', '/?token=wrong',
                     '/thumbs/' + review['labeled'][0]):
            assert bare.get(path).status_code == 401, path
        answer = bare.get(f'/?token={TOKEN}')
        assert answer.status_code == 303 and answer.headers['location'] == '/'
        cookie = answer.headers['set-cookie']
        assert cookie.startswith(f'al_token={TOKEN};')
        assert 'HttpOnly' in cookie and 'SameSite=strict' in cookie
        assert bare.cookies['al_token'] == TOKEN
        page = bare.get('/')
        assert page.status_code == 200 and '<canvas id="histogram"' in \
            page.text
        assert bare.get('/review/data').json()['job'] == \
            review['job']['id']
        assert bare.get('/review/static/review.js').status_code == 200
        assert bare.get('/review/static/review.html').status_code == 404
        # state changes need the header
        assert bare.post('/select', json={}).status_code == 401


def chromium_paths() -> tuple:
    """``(chromium, chromedriver)``, installed with apt when missing;
    skips, saying why, when they cannot be."""
    found = shutil.which('chromium'), shutil.which('chromedriver')
    if all(found):
        return found
    if not shutil.which('apt-get') or os.geteuid() != 0:
        pytest.skip('chromium / chromium-driver are missing and apt-get '
                    'cannot install them here (no apt-get, or not root)')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    install = ['apt-get', 'install', '-y', '-q', 'chromium',
               'chromium-driver']
    proc = subprocess.run(install, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        subprocess.run(['apt-get', 'update', '-q'], env=env,
                       capture_output=True)
        proc = subprocess.run(install, env=env, capture_output=True,
                              text=True)
    found = shutil.which('chromium'), shutil.which('chromedriver')
    if proc.returncode != 0 or not all(found):
        reason = ('apt-get could not install chromium / chromium-driver '
                  f'(the package registry unreachable?): '
                  f'{proc.stderr.strip()[-300:]}')
        print(reason)
        pytest.skip(reason)
    return found


def wait_for(driver, script, timeout=60):
    deadline = time.time() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        assert time.time() < deadline, f'timed out waiting for: {script}'
        time.sleep(0.2)


def test_page_in_headless_chromium(review, tmp_path):
    webdriver = pytest.importorskip(
        'selenium.webdriver', reason='selenium is not installed '
        '(requirements/tests.txt)')
    from selenium.webdriver.chrome.service import Service as Driver
    chromium, chromedriver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', '--window-size=1280,1400'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Driver(chromedriver), options=options)
    try:
        driver.get(f'{review["service"].url}/?token={TOKEN}')
        job = review['job']
        assert wait_for(driver, 'return document.body.dataset.ready') == \
            job['id']
        images = wait_for(driver, """
            const images = [...document.images];
            return images.every((i) => i.complete) && images.map((i) => [
                i.id || i.className, i.naturalWidth, i.naturalHeight]);""")
        thumbs = [i for i in images if i[0] == 'thumb']
        assert len(thumbs) == BUDGET
        assert all(w == 64 and h == 64 for _, w, h in thumbs), thumbs
        assert ['poolmap', 1200, 540] in images
        boxes = [b for s in job['result']['selected'] for b in s['boxes']]
        assert driver.execute_script(
            "return document.querySelectorAll('.frame rect').length") == \
            len(boxes) == 3 * BUDGET
        captions = driver.execute_script(
            "return [...document.querySelectorAll('li.box')]"
            ".map((li) => li.textContent)")
        assert [c.split(':')[0] for c in captions] == [
            b['class'] for b in boxes]
        assert driver.execute_script('return document.body.dataset.bars') \
            == '20'
        inked = driver.execute_script("""
            const c = document.getElementById('histogram');
            const pixels = c.getContext('2d').getImageData(
                0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < pixels.length; i += 4) n += pixels[i] > 0;
            return n;""")
        assert inked > 5000  # bars, frame and labels
        links = driver.execute_script(
            "return [...document.querySelectorAll('#files a')]"
            ".map((a) => a.getAttribute('href'))")
        assert sorted(links) == sorted(
            f'files/{p}' for p in job['result']['exports'].values())
        shot = tmp_path / 'review_page.png'
        assert driver.save_screenshot(str(shot))
        if os.environ.get('REVIEW_SCREENSHOT'):
            shutil.copy(shot, os.environ['REVIEW_SCREENSHOT'])
        with Image.open(shot) as image:
            assert image.size[0] >= 1000 and image.size[1] >= 1000
    finally:
        driver.quit()
