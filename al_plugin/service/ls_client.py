"""Label Studio's side of the backend (:mod:`.label_studio`): HTTP calls
with its API key, its images cached on disk, and the detector that predicts
on them."""
import hashlib
import os
import os.path as osp
import re
import threading
from typing import List, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from al_plugin.utils import atomic_open

#: largest image downloaded, bytes
MAX_IMAGE_BYTES = 64 << 20


class LabelStudioError(RuntimeError):
    """Label Studio refused a call or answered an error (the URL, status
    and its answer are said)."""


class LabelStudioClient:
    """HTTP calls to Label Studio with its API key.

    A personal access token (a JWT) is traded for an access token at
    ``/api/token/refresh/``, again when that one expires (a 401); a legacy
    token is sent as ``Authorization: Token <key>``. The key goes only to
    Label Studio's own address.

    Args:
        url (str): Label Studio's address, e.g. ``http://127.0.0.1:8080``.
        api_key (str, optional): Its API key.
    """

    def __init__(self, url: str, api_key: Optional[str]) -> None:
        import httpx
        if not re.match(r'^https?://', url or ''):
            raise ValueError(f'Label Studio\'s URL {url!r} does not start '
                             'with http:// or https://')
        self.url = url.rstrip('/') + '/'
        self.api_key = api_key
        self._access = None
        self._http = httpx.Client(timeout=60, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def absolute(self, ref: str) -> str:
        """The URL of ``ref`` (absolute, or a path on Label Studio)."""
        if re.match(r'^https?://', ref):
            return ref
        if '://' in ref:
            raise ValueError(f'cannot download {ref!r}: only http(s) URLs '
                             'and paths on Label Studio are read (let Label '
                             'Studio serve cloud storage through its proxy)')
        return urljoin(self.url, ref.lstrip('/'))

    def _own(self, url: str) -> bool:
        mine, theirs = urlsplit(self.url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _headers(self, url: str, fresh: bool = False) -> dict:
        if not self.api_key or not self._own(url):
            return {}
        if self.api_key.count('.') != 2:  # a legacy token
            return dict(Authorization=f'Token {self.api_key}')
        if self._access is None or fresh:
            answer = self._http.post(urljoin(self.url, 'api/token/refresh/'),
                                     json=dict(refresh=self.api_key))
            if answer.status_code != 200:
                raise LabelStudioError(
                    f'Label Studio refused the API key (POST '
                    f'api/token/refresh/: {answer.status_code} '
                    f'{answer.text[:200]})')
            self._access = answer.json()['access']
        return dict(Authorization=f'Bearer {self._access}')

    def get(self, ref: str, **kwargs):
        """GET ``ref``; a 401 refreshes the access token once.

        Raises:
            LabelStudioError | httpx.HTTPError: Label Studio refused or
                could not be reached (the URL is named).
        """
        url = self.absolute(ref)
        answer = self._http.get(url, headers=self._headers(url), **kwargs)
        if answer.status_code == 401 and self.api_key and \
                self.api_key.count('.') == 2:
            answer = self._http.get(
                url, headers=self._headers(url, fresh=True), **kwargs)
        if answer.status_code != 200:
            raise LabelStudioError(
                f'GET {url}: {answer.status_code} {answer.text[:200]}'
                + (' (set LABEL_STUDIO_API_KEY)' if answer.status_code in
                   (401, 403) and not self.api_key else ''))
        return answer

    def export(self, project: int) -> List[dict]:
        """The project's tasks that have annotations (its JSON export)."""
        return self.get(f'api/projects/{project}/export',
                        params=dict(exportType='JSON')).json()


def cache_name(ref: str) -> str:
    """The file name of an image reference in the cache: a digest of the
    reference and its readable base name (from the path, or from a query
    value for ``?d=dir/x.jpg`` style URLs)."""
    parts = urlsplit(ref)
    candidates = [unquote(parts.path).rsplit('/', 1)[-1]] + [
        value.rsplit('/', 1)[-1] for _, value in parse_qsl(parts.query)
    ]
    base = next((c for c in candidates if re.search(r'\.\w{2,5}$', c)),
                candidates[0]) or 'image'
    base = re.sub(r'[^A-Za-z0-9._-]', '_', base)[-80:].lstrip('.')
    digest = hashlib.sha1(ref.encode()).hexdigest()[:12]
    return f'{digest}_{base}'


class ImageCache:
    """Label Studio's images, downloaded once into ``folder``.

    Args:
        folder (str): The cache (made if missing).
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def fetch(self, client: LabelStudioClient, ref: str) -> str:
        """The cached file of ``ref`` (a task's image URL), downloaded if
        missing; its name relative to ``folder``.

        Raises:
            ValueError | LabelStudioError | httpx.HTTPError: It cannot be
                downloaded (the URL and the reason are named).
        """
        if not isinstance(ref, str) or not ref:
            raise ValueError(f'{ref!r} is no image URL')
        name = cache_name(ref)
        path = osp.join(self.folder, name)
        if osp.isfile(path):
            return name
        url = client.absolute(ref)
        answer = client.get(url)
        if len(answer.content) > MAX_IMAGE_BYTES:
            raise ValueError(f'{url} is over {MAX_IMAGE_BYTES} bytes')
        with atomic_open(path, 'wb') as f:
            f.write(answer.content)
        return name


class Predictor:
    """The detector behind ``/ls/predict``: loaded on first use and kept
    while the config and checkpoint (path and modification time) stay the
    same; one query at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key = None
        self._cfg = self._model = None

    def query(self, config: str, checkpoint: str, root: str,
              files: List[str], strategy: Optional[str],
              options: Optional[dict], score_thr: float):
        """:func:`~al_plugin.engine.image_query.query_images` of the
        ``files`` under ``root``, all of them picked (the budget is their
        number): every image's score and detections."""
        from al_plugin.engine.image_query import Images, query_images
        with self._lock:
            self._load(config, checkpoint)
            return query_images(
                self._cfg, self._model, checkpoint, Images(root, files),
                len(files), strategy=strategy, options=options,
                score_thr=score_thr,
                none_given='the Label Studio backend scores without one')

    def _load(self, config: str, checkpoint: str) -> None:
        key = (config, checkpoint, os.stat(checkpoint).st_mtime_ns,
               os.stat(config).st_mtime_ns)
        if key == self._key:
            return
        import torch
        from mmengine.config import Config

        from al_plugin.engine.export import load_detector
        self._key = self._cfg = self._model = None
        cfg = Config.fromfile(config)
        self._model = load_detector(
            cfg, checkpoint, 'cuda' if torch.cuda.is_available() else 'cpu')
        self._cfg, self._key = cfg, key


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image file (its header only).

    Raises:
        ValueError: Not an image (the path is named).
    """
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as e:
        raise ValueError(f'{path}: not an image ({e})') from e
