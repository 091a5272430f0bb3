"""The selection service: an HTTP API over the selection pipeline.

``create_app(ServiceSettings(...))`` returns a FastAPI application;
``tools/serve.py`` runs it with uvicorn. Routes:

- ``GET /health``: ``{"status": "ok", "running": id, "queued": n}``, no
  token needed (answers while a job runs: jobs run in child processes);
- ``GET /strategies``: the registered strategies, their options and
  defaults, the outputs they use;
- ``POST /select`` (:class:`~.schemas.SelectRequest`): queues a select job
  and answers at once (202) with its id and how many jobs are ahead;
- ``POST /train`` (:class:`~.schemas.TrainRequest`): queues a train job
  (:mod:`.training`); its checkpoint becomes "latest";
- ``POST /evaluate`` (:class:`~.schemas.EvaluateRequest`): queues an
  evaluate job (:mod:`.evaluate`): mAP overall and per class;
- ``GET /jobs``, ``GET /jobs/{id}``: state, progress (done / total, rate,
  ETA) and, when done, the result (the ranked images with scores and boxes,
  the skipped ones, the exports' paths);
- ``GET /files/{path}``: a file of the work dir (the exports);
- ``GET /``: the review page of the latest selection (:mod:`.review`; a
  browser gives the token as ``/?token=``, then as a cookie).
- ``/ls/health``, ``/ls/setup``, ``/ls/predict``, ``/ls/webhook``: Label
  Studio's ML-backend protocol (:mod:`.label_studio`; connect the model
  URL ``http://HOST:PORT/ls``).

Errors: a path out of its folder is 403, a missing one 404, a bad field or
an unknown strategy / option 422, each naming the field; a body over
``max_body`` bytes is 413; without the token (when one is set) 401.

The token is ``Authorization: Bearer <token>`` or HTTP Basic auth, any
user, the token as password: Label Studio calls an ML backend only so
(model connection form: *Basic Authentication*, password the token).
"""
import fcntl
import os
import os.path as osp
import secrets
from contextlib import asynccontextmanager
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from al_plugin.version import __version__
from .guards import BodyLimit, basic_password
from .jobs import JobRunner, JobStore
from .paths import PathRefused, resolve_inside
from .review import page_token, review_router
from .schemas import (EvaluateRequest, LabelsRequest, SelectRequest,
                      TrainRequest)
from .settings import RequestError, ServiceSettings, checkpoint_path


def strategy_table() -> list:
    """``GET /strategies``: every registered strategy's name, options
    (``required``; ``defaults``, JSON values or their repr), outputs and
    first docstring line."""
    import json

    from al_plugin.registry import STRATEGIES
    from al_plugin.strategies import init_options
    STRATEGIES.import_from_location()
    table = []
    for name in sorted(STRATEGIES.module_dict):
        cls = STRATEGIES.module_dict[name]
        required, optional = init_options(cls)
        defaults = {}
        for key, value in optional.items():
            try:
                json.dumps(value)
                defaults[key] = value
            except (TypeError, ValueError):
                defaults[key] = repr(value)
        doc = (cls.__doc__ or '').strip().splitlines()
        table.append(
            dict(name=name, required=required, defaults=defaults,
                 requires=list(getattr(cls, 'requires', ())),
                 requires_labeled=list(getattr(cls, 'requires_labeled', ())),
                 doc=doc[0] if doc else ''))
    return table


def check_strategy(request: SelectRequest) -> None:
    """A 422 naming ``strategy`` or ``options`` for an unknown strategy or
    option (the message lists what exists)."""
    from al_plugin.strategies import check_strategy_cfg
    if request.strategy is None:
        if request.options:
            raise RequestError(422, 'options',
                               'options need a strategy: name one')
        return
    try:
        check_strategy_cfg(dict(request.options, type=request.strategy))
    except KeyError as e:
        raise RequestError(422, 'strategy', str(e.args[0]))
    except TypeError as e:
        raise RequestError(422, 'options', str(e))


def image_spec(settings: ServiceSettings, request: SelectRequest) -> dict:
    """``images_root`` and ``files`` (None: the folder's) of a request."""
    root = settings.data_root
    if isinstance(request.images, str):
        folder = resolve_inside(root, request.images, 'images', kind='dir')
        return dict(images_root=folder, files=None)
    if not request.images:
        raise RequestError(422, 'images', 'the list of images is empty')
    files = [
        resolve_inside(root, path, f'images[{i}]', kind='file')
        for i, path in enumerate(request.images)
    ]
    real_root = osp.realpath(root)
    return dict(
        images_root=real_root,
        files=[osp.relpath(f, real_root).replace(os.sep, '/')
               for f in files])


def labeled_spec(settings: ServiceSettings, labeled) -> Optional[dict]:
    """The request's labels: ``kind`` (coco, voc, list) and paths."""
    if labeled is None:
        return None
    root = settings.data_root
    if isinstance(labeled, list):
        return dict(kind='list', paths=[
            resolve_inside(root, path, f'labeled[{i}]', kind='file')
            for i, path in enumerate(labeled)
        ])
    path = resolve_inside(root, labeled, 'labeled')
    if osp.isdir(path):
        return dict(kind='voc', path=path)
    if path.endswith('.json'):
        return dict(kind='coco', path=path)
    raise RequestError(422, 'labeled', f'{labeled!r} is neither a COCO json '
                       'nor a VOC folder')


def select_spec(settings: ServiceSettings, request: SelectRequest) -> dict:
    """What the worker needs, every path resolved and checked."""
    check_strategy(request)
    return dict(
        image_spec(settings, request),
        labeled=labeled_spec(settings, request.labeled),
        config=resolve_inside(settings.config_dir, request.config, 'config',
                              kind='file'),
        checkpoint=checkpoint_path(settings, request.checkpoint),
        budget=request.budget,
        strategy=request.strategy,
        options=request.options,
        score_thr=request.score_thr,
        seed=request.seed,
        data_root=osp.realpath(settings.data_root),
        work_dir=osp.realpath(settings.work_dir))


def labels_spec(settings: ServiceSettings, request: LabelsRequest) -> dict:
    """The labels, images and config of a train or evaluate request,
    resolved and checked."""
    return dict(
        labels=resolve_inside(settings.data_root, request.labels, 'labels',
                              kind='file'),
        images_root=resolve_inside(settings.data_root, request.images,
                                   'images', kind='dir'),
        config=resolve_inside(settings.config_dir, request.config, 'config',
                              kind='file'),
        work_dir=osp.realpath(settings.work_dir))


def train_spec(settings: ServiceSettings, request: TrainRequest) -> dict:
    """What the worker needs to train, every path resolved and checked."""
    return dict(
        labels_spec(settings, request),
        checkpoint=None if request.checkpoint is None else checkpoint_path(
            settings, request.checkpoint),
        epochs=request.epochs)


def evaluate_spec(settings: ServiceSettings,
                  request: EvaluateRequest) -> dict:
    """What the worker needs to evaluate, every path resolved and
    checked."""
    return dict(
        labels_spec(settings, request),
        checkpoint=checkpoint_path(settings, request.checkpoint),
        metrics=list(dict.fromkeys(request.metrics)))


def error_response(status: int, field: Optional[str], message: str):
    return JSONResponse(dict(detail=message, field=field),
                        status_code=status)


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service over ``settings``' folders; at start-up it takes the
    work dir's lock (one service a work dir), marks jobs a stopped service
    left queued or running as failed and starts the job runner."""
    service_dir = osp.join(settings.work_dir, 'service')
    os.makedirs(service_dir, exist_ok=True)
    store = JobStore(osp.join(service_dir, 'jobs'))
    # the workers import `projects.<Name>` as tools/ do
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    runner = JobRunner(store, env=dict(PYTHONPATH=os.pathsep.join(
        p for p in (repo, os.environ.get('PYTHONPATH')) if p)))

    @asynccontextmanager
    async def lifespan(app):
        lock = open(osp.join(service_dir, 'service.lock'), 'w')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f'another service uses the work dir '
                               f'{settings.work_dir}')
        store.recover()
        runner.start()
        yield
        runner.stop()
        lock.close()

    app = FastAPI(title='al_plugin selection service', version=__version__,
                  lifespan=lifespan)
    app.state.settings, app.state.store, app.state.runner = (settings, store,
                                                             runner)

    @app.middleware('http')
    async def need_token(request: Request, call_next):
        if settings.token and request.url.path != '/health':
            given = request.headers.get('authorization', '')
            token = settings.token.encode()
            if not (secrets.compare_digest(given.encode(), b'Bearer ' + token)
                    or secrets.compare_digest(
                        basic_password(given).encode(), token)
                    or secrets.compare_digest(page_token(request).encode(),
                                              token)):
                return error_response(401, 'authorization',
                                      'a valid "Authorization: Bearer '
                                      '<token>" header is required (or '
                                      'HTTP Basic auth, any user, the token '
                                      'as password; a browser: open '
                                      '/?token=<token>)')
        return await call_next(request)

    app.add_middleware(BodyLimit, max_body=settings.max_body)

    @app.exception_handler(PathRefused)
    async def refused(request, e: PathRefused):
        return error_response(403, e.field, str(e))

    @app.exception_handler(FileNotFoundError)
    async def missing(request, e: FileNotFoundError):
        return error_response(404, None, str(e))

    @app.exception_handler(RequestError)
    async def bad_request(request, e: RequestError):
        return error_response(e.status, e.field, str(e))

    @app.get('/health')
    def health() -> dict:
        busy = runner.busy()
        return dict(status='ok', version=__version__,
                    running=busy['running'], queued=len(busy['queued']))

    @app.get('/strategies')
    def strategies() -> list:
        return strategy_table()

    def queue(kind: str, request, spec: dict) -> dict:
        job = store.create(kind, request.model_dump(), spec)
        ahead = runner.submit(job['id'])
        return dict(id=job['id'], kind=kind, state='queued', ahead=ahead,
                    url=f'/jobs/{job["id"]}')

    @app.post('/select', status_code=202)
    def post_select(request: SelectRequest) -> dict:
        return queue('select', request, select_spec(settings, request))

    @app.post('/train', status_code=202)
    def post_train(request: TrainRequest) -> dict:
        return queue('train', request, train_spec(settings, request))

    @app.post('/evaluate', status_code=202)
    def post_evaluate(request: EvaluateRequest) -> dict:
        return queue('evaluate', request, evaluate_spec(settings, request))

    @app.get('/jobs')
    def jobs() -> list:
        keep = ('id', 'kind', 'state', 'created', 'started', 'finished',
                'error')
        return [{k: store.job(i).get(k)
                 for k in keep} for i in store.ids()]

    @app.get('/jobs/{job_id}')
    def job(job_id: str) -> Any:
        try:
            return store.view(job_id)
        except KeyError as e:
            return error_response(404, 'job_id', str(e.args[0]))

    @app.get('/files/{path:path}')
    def files(path: str):
        return FileResponse(
            resolve_inside(settings.work_dir, path, 'path', kind='file'))

    app.include_router(review_router(settings, store))
    from .label_studio import label_studio_router  # it imports this module
    app.include_router(label_studio_router(settings, store, runner),
                       prefix='/ls')
    return app
