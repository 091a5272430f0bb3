"""Label Studio's ML-backend protocol on the selection service.

Mounted under ``/ls``: in a Label Studio project, *Settings -> Model ->
Connect Model* with the URL ``http://HOST:PORT/ls``. Label Studio then
calls:

- ``GET /ls/health``: ``{"status": "UP"}`` (Label Studio waits 1 s);
- ``POST /ls/setup`` (``project``, ``schema``: the labeling config,
  ``hostname``, ``access_token``): checks that the config has a
  ``RectangleLabels`` tag and answers ``{"model_version": V}`` (Label
  Studio waits 3 s: nothing is loaded here). ``V`` names the checkpoint
  and changes with it, so tasks predicted by an older model are predicted
  again when predictions are retrieved;
- ``POST /ls/predict`` (``tasks``, ``label_config``): for each task, the
  model's boxes as pre-annotations (``rectanglelabels`` regions in percent
  of the image, labels = the config's class names that the project
  labels, ``from_name`` / ``to_name`` read from its labeling config) and,
  as the prediction ``score``, the configured strategy's score of the
  image, so that annotators sort the Data Manager by it. The images come
  from Label Studio (``task.data[<the Image tag's value>]``, e.g.
  ``/data/upload/1/x.png``), downloaded once into
  ``<work_dir>/service/label_studio/images``. Scoring is
  :func:`al_plugin.engine.image_query.query_images` on those files, with
  the budget set to all of them: the scores are the ones a ``/select`` job
  gives the same images;
- ``POST /ls/webhook``: every project event (Label Studio registers this
  URL when the model is connected). Each is counted; a new annotation
  (``ANNOTATION_CREATED``) is recorded and, when the service runs with
  ``--ls-train-every N``, every N new annotations start a ``train`` job
  (:mod:`.training`) on the project's annotations, exported from Label
  Studio (its JSON export, made COCO here), fine-tuning the current
  checkpoint for ``--ls-train-epochs``.

``GET /ls/status`` shows what the backend uses (config, checkpoint,
strategy, model version) and what it received (events, annotations, train
jobs).

Which checkpoint predicts: ``--ls-checkpoint latest`` (the default)
follows "latest", the newest checkpoint a train job wrote; a path (under
``--work-dir``) is used until a train job started by the webhook finishes,
then that job's checkpoint is.

Label Studio's address and an API key, to download the images and export
the annotations, come from the environment as for Label Studio's own ML
backends: ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY`` (a personal
access token, which is refreshed into short-lived access tokens, or a
legacy token). Without them the ``hostname`` and ``access_token`` that
``/setup`` received are used (that token is a legacy one: it works only
where the organization allows legacy tokens).

Unlike the jobs, ``/ls/predict`` runs the model in the service process (a
thread; the detector is loaded on the first call and kept until the
checkpoint changes), since Label Studio waits for the answer (100 s by
default).

The work is split: :mod:`.ls_format` (labeling config, regions, export to
COCO), :mod:`.ls_client` (HTTP calls, image cache, the detector),
:mod:`.ls_backend` (what the routes do), :mod:`.ls_state` (the state on
disk); this module holds the settings and the routes, and names the public
parts of the others.
"""
from typing import NamedTuple, Optional

from fastapi import APIRouter

from .jobs import JobRunner, JobStore
from .ls_backend import FOLDER, LabelStudioBackend
from .ls_client import (MAX_IMAGE_BYTES, ImageCache, LabelStudioClient,
                        LabelStudioError, Predictor, cache_name, image_size)
from .ls_format import (RectangleTarget, annotations_to_coco,
                        final_annotation, ls_regions, parse_labeling_config,
                        project_id, region_box)
from .ls_state import ANNOTATION_EVENTS, KEEP_ANNOTATIONS, BackendState

__all__ = [
    'ANNOTATION_EVENTS', 'FOLDER', 'KEEP_ANNOTATIONS', 'MAX_IMAGE_BYTES',
    'BackendState', 'ImageCache', 'LabelStudioBackend', 'LabelStudioClient',
    'LabelStudioError', 'LabelStudioSettings', 'Predictor',
    'RectangleTarget', 'annotations_to_coco', 'cache_name',
    'final_annotation', 'image_size', 'label_studio_router', 'ls_regions',
    'parse_labeling_config', 'project_id', 'region_box'
]


class LabelStudioSettings(NamedTuple):
    """How the service answers Label Studio (``tools/serve.py --ls-*``).

    Attributes:
        config (str, optional): The experiment config, under the service's
            config folder; None: ``/ls/setup`` and ``/ls/predict`` say that
            the service was started without ``--ls-config``.
        checkpoint (str): ``'latest'`` or a checkpoint under the work dir.
        strategy (str, optional): A registered strategy; None: the
            config's ``ActiveSelectionHook`` strategy.
        options (dict, optional): The strategy's options.
        score_thr (float): Boxes scoring less are not pre-annotations.
        train_every (int): Start a train job every this many new
            annotations; 0: never.
        train_epochs (int): Epochs of such a train job.
        url (str, optional): Label Studio's address
            (``LABEL_STUDIO_URL``).
        api_key (str, optional): Its API key (``LABEL_STUDIO_API_KEY``).
    """
    config: Optional[str] = None
    checkpoint: str = 'latest'
    strategy: Optional[str] = None
    options: Optional[dict] = None
    score_thr: float = 0.3
    train_every: int = 0
    train_epochs: int = 10
    url: Optional[str] = None
    api_key: Optional[str] = None


def label_studio_router(settings, store: JobStore,
                        runner: JobRunner) -> APIRouter:
    """The ``/setup``, ``/predict``, ``/health``, ``/webhook`` and
    ``/status`` routes (the app mounts them under ``/ls``), each a method
    of a :class:`~.ls_backend.LabelStudioBackend`.

    Args:
        settings (ServiceSettings): The service's; its ``label_studio``
            field (:class:`LabelStudioSettings`) says how to answer.
        store (JobStore): Where train jobs are created.
        runner (JobRunner): Where they are queued.
    """
    ls = getattr(settings, 'label_studio', None) or LabelStudioSettings()
    backend = LabelStudioBackend(settings, ls, store, runner)
    router = APIRouter()

    @router.get('/health')
    def health() -> dict:
        return dict(status='UP', model_class='al_plugin selection service',
                    config=ls.config, strategy=ls.strategy)

    @router.post('/setup')
    def setup(body: dict) -> dict:
        return backend.setup(body)

    @router.post('/predict')
    def predict(body: dict) -> dict:
        return backend.predict(body)

    @router.post('/webhook')
    def webhook(body: dict) -> dict:
        return backend.webhook(body)

    @router.get('/status')
    def status() -> dict:
        return backend.status()

    return router
