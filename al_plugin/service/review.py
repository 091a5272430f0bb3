"""The review page: what the latest selection picked, at ``GET /``.

Plain HTML and a little JavaScript (``static/``, no build step) over
three routes of this router:

- ``GET /``: the page; ``GET /review/static/{name}``: its script and
  style;
- ``GET /review/data[?job=ID]``: what the page shows, for the newest
  finished select job (or job ``ID``): the picks with their predicted
  boxes (original image frame, with the image's size), class names and
  scores; the histogram of the pool's scores; the pool map
  (:mod:`al_plugin.service.pool_map`, drawn by the job); links to the exports;
- ``GET /thumbs/{path}?size=N``: an image under the data root (checked
  with :func:`~.paths.resolve_inside`) shrunk to fit ``N`` x ``N``
  pixels, as JPEG; cached in ``<work_dir>/service/thumbs``.

With a token (``--token``), a browser opens ``/?token=<token>`` once: the
page answers with a redirect to ``/`` that sets the token as an HttpOnly,
``SameSite=Strict`` cookie (:data:`TOKEN_COOKIE`), which the page's own
requests (data, thumbnails, pool map, exports) then carry. The cookie is
accepted for GET requests only (:func:`page_token`); anything that
changes state still needs the ``Authorization`` header.
"""
import hashlib
import os
import os.path as osp
from typing import Optional

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from al_plugin.utils import atomic_open
from .jobs import JobStore, read_json
from .paths import PathRefused, resolve_inside

#: the cookie that carries the token of a browser
TOKEN_COOKIE = 'al_token'
STATIC = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
#: the files of the page, served from ``static/``
PAGE_FILES = {'review.js': 'text/javascript', 'review.css': 'text/css'}
#: bins of the score histogram
BINS = 20


def page_token(request: Request) -> str:
    """The token a browser gives: the :data:`TOKEN_COOKIE` cookie of a GET
    request, or on the page itself ``GET /?token=``; ``''`` if none."""
    if request.method not in ('GET', 'HEAD'):
        return ''
    if request.url.path == '/' and 'token' in request.query_params:
        return request.query_params['token']
    return request.cookies.get(TOKEN_COOKIE, '')


def score_histogram(scores: dict, picked: list) -> Optional[dict]:
    """``edges`` (``BINS + 1``), ``counts`` of every scored pool image and
    ``selected`` counts of the picks, over the same bins; ``unscored``:
    images without a score. None when no image has a score."""
    values = np.array([s for s in scores.values() if s is not None], float)
    if not len(values):
        return None
    edges = np.histogram_bin_edges(values, bins=BINS)
    mine = np.array([s for s in picked if s is not None], float)
    return dict(edges=edges.tolist(),
                counts=np.histogram(values, edges)[0].tolist(),
                selected=np.histogram(mine, edges)[0].tolist(),
                unscored=len(scores) - len(values))


def image_sizes(coco: Optional[dict], data_root: str) -> dict:
    """Path under the data root -> ``(width, height)`` of an export's
    images."""
    if not coco:
        return {}
    root = coco['info']['image_root']
    return {
        osp.relpath(osp.join(root, image['file_name']),
                    data_root).replace(os.sep, '/'):
        (image['width'], image['height'])
        for image in coco['images']
    }


def review_data(settings, store: JobStore,
                job_id: Optional[str] = None) -> dict:
    """What the page shows for a finished select job (the newest when
    ``job_id`` is None): see the module doc. URLs are relative to the
    page."""
    jobs = [i for i in reversed(store.ids())
            if store.job(i)['kind'] == 'select'
            and store.job(i)['state'] == 'done']
    job_id = job_id or (jobs[0] if jobs else None)
    if job_id is None:
        return dict(job=None, jobs=[], message='no select job has finished '
                    'yet: POST /select, then reload')
    job = store.view(job_id)
    if job['kind'] != 'select' or job['state'] != 'done':
        raise KeyError(f'job {job_id} is not a finished select job '
                       f'({job["kind"]}, {job["state"]})')
    result, work_dir = job['result'], settings.work_dir
    files = {k: f'files/{v}' for k, v in result.get('exports', {}).items()}
    coco = read_json(osp.join(work_dir, result['exports']['coco'])) \
        if 'coco' in result.get('exports', {}) else None
    sizes = image_sizes(coco, osp.realpath(settings.data_root))
    selected = [
        dict(pick, thumb=f'thumbs/{pick["image"]}',
             size=sizes.get(pick['image'])) for pick in result['selected']
    ]
    return dict(
        job=job_id, jobs=jobs, finished=job['finished'],
        request={k: job['request'].get(k)
                 for k in ('images', 'labeled', 'config', 'checkpoint')},
        **{k: result.get(k) for k in ('strategy', 'budget', 'num_images',
                                      'num_labeled', 'num_pool', 'skipped')},
        selected=selected,
        histogram=score_histogram(result.get('scores', {}),
                                  [p['score'] for p in selected]),
        pool_map=files.get('pool_map_png'), files=files)


def thumbnail(settings, path: str, size: int) -> str:
    """A JPEG of ``path`` (under the data root) at most ``size`` pixels a
    side (EXIF orientation applied, as the model reads it), made once and
    kept in ``<work_dir>/service/thumbs``; returns its file.

    Raises:
        PathRefused | FileNotFoundError: As :func:`resolve_inside`.
        ValueError: Not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    source = resolve_inside(settings.data_root, path, 'path', kind='file')
    stat = os.stat(source)
    key = hashlib.sha1(f'{source}|{stat.st_mtime_ns}|{stat.st_size}|{size}'
                       .encode()).hexdigest()
    cached = osp.join(settings.work_dir, 'service', 'thumbs', f'{key}.jpg')
    if osp.isfile(cached):
        return cached
    try:
        with Image.open(source) as image:
            image = ImageOps.exif_transpose(image).convert('RGB')
            image.thumbnail((size, size))
            with atomic_open(cached, 'wb') as f:
                image.save(f, 'JPEG', quality=85)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f'path: {path!r} is not a readable image '
                         f'({error})') from error
    return cached


def review_router(settings, store: JobStore) -> APIRouter:
    """The page's routes over the service's ``settings`` and jobs."""
    router = APIRouter()

    @router.get('/', include_in_schema=False)
    def page(request: Request):
        if 'token' in request.query_params:  # checked by the service
            response = RedirectResponse('/', status_code=303)
            response.set_cookie(TOKEN_COOKIE, request.query_params['token'],
                                httponly=True, samesite='strict')
            return response
        return FileResponse(osp.join(STATIC, 'review.html'),
                            media_type='text/html')

    @router.get('/review/static/{name}', include_in_schema=False)
    def static(name: str):
        if name not in PAGE_FILES:
            return JSONResponse(dict(detail=f'no page file {name!r}',
                                     field='name'), status_code=404)
        return FileResponse(osp.join(STATIC, name),
                            media_type=PAGE_FILES[name])

    @router.get('/review/data')
    def data(job: Optional[str] = None):
        try:
            return review_data(settings, store, job)
        except KeyError as e:
            return JSONResponse(dict(detail=str(e.args[0]), field='job'),
                                status_code=404)

    @router.get('/thumbs/{path:path}')
    def thumbs(path: str, size: int = Query(256, ge=16, le=1024)):
        try:
            return FileResponse(thumbnail(settings, path, size),
                                media_type='image/jpeg')
        except PathRefused:
            raise  # a 403, as every path out of its folder
        except ValueError as e:
            return JSONResponse(dict(detail=str(e), field='path'),
                                status_code=422)

    return router
