"""Build the pretrained backbone once per machine, copy it where configs
look.

Like the mmcv wheel of ``tools/setup_env.sh``, the checkpoint lives outside
the clone, in ``${AL_PLUGIN_CACHE:-${XDG_CACHE_HOME:-~/.cache}/al_plugin}``
under ``pretrained/glyph_resnet18_tiny-<key>.pth``. The key hashes the
settings, the source of this package (``al_plugin/models/pretrain/*.py``)
and the versions of the libraries that shape the result, so a change to any
of them builds a new file. The checkpoint the configs name
(:data:`DEFAULT_CHECKPOINT`, inside the clone and git-ignored) is a copy,
with a JSON record beside it (same name, ``.json``) that holds its key.
"""
import glob
import hashlib
import json
import os.path as osp
import shutil
from importlib import metadata
from typing import Callable, Optional

from ...utils import atomic_open, atomic_write_json, cache_root
from .checkpoint import load_checkpoint, save_checkpoint
from .trainer import PretrainSettings, train_backbone

#: where configs/_base_/models/*_tiny.py expect the weights (repo-relative)
DEFAULT_CHECKPOINT = 'data/pretrained/glyph_resnet18_tiny.pth'
CACHE_NAME = 'glyph_resnet18_tiny'
#: libraries whose version changes the rendered glyphs or the training
VERSIONED = ('torch', 'mmdet', 'numpy', 'Pillow', 'matplotlib')


def code_digest() -> str:
    """sha256 of the source files of ``al_plugin/models/pretrain``."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(osp.join(osp.dirname(__file__), '*.py'))):
        digest.update(osp.basename(path).encode())
        with open(path, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return 'missing'


def settings_key(settings: PretrainSettings) -> str:
    """16 hex digits naming the weights ``settings`` give with this code."""
    blob = json.dumps(
        dict(settings=settings.as_dict(), code=code_digest(),
             versions={p: _version(p) for p in VERSIONED}),
        sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_checkpoint(settings: PretrainSettings,
                      cache_dir: Optional[str] = None) -> str:
    """The cache file of ``settings`` (it may not exist yet)."""
    root = cache_root() if cache_dir is None else cache_dir
    return osp.join(root, 'pretrained',
                    f'{CACHE_NAME}-{settings_key(settings)}.pth')


def record_path(checkpoint: str) -> str:
    """The JSON record beside ``checkpoint`` (``x.pth`` -> ``x.json``)."""
    return osp.splitext(checkpoint)[0] + '.json'


def _read_record(path: str) -> dict:
    try:
        with open(record_path(path)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _copy(src: str, dst: str) -> None:
    with open(src, 'rb') as fin, atomic_open(dst, 'wb') as fout:
        shutil.copyfileobj(fin, fout)


def ensure_pretrained(out: str = DEFAULT_CHECKPOINT,
                      settings: Optional[PretrainSettings] = None,
                      cache_dir: Optional[str] = None,
                      use_cache: bool = True,
                      force: bool = False,
                      log: Callable[[str], None] = print) -> dict:
    """Make ``out`` hold the pretrained backbone of ``settings``.

    Nothing is done when ``out``'s record already has the settings' key.
    Else the cached file is checked and copied, or, when there is none (or
    ``force``), the backbone is trained and written to the cache, then
    copied. Every file is written atomically.

    Args:
        out (str): Checkpoint to write (what a config names).
        settings (:obj:`PretrainSettings`, optional): Defaults to the
            default settings.
        cache_dir (str, optional): Defaults to
            :func:`al_plugin.utils.cache_root`.
        use_cache (bool): False trains straight into ``out``.
        force (bool): Train even when a cached or current file exists.
        log (callable): Receives progress lines.

    Returns:
        dict: The checkpoint's meta (settings, fonts, accuracy, seconds,
        ``key``) plus ``checkpoint`` (``out``) and ``cache`` (the cached
        file, or None).

    Raises:
        ValueError: Invalid settings, or a corrupt or foreign cached file
            (named, with the way out).
    """
    settings = PretrainSettings() if settings is None else settings
    settings.check()
    key = settings_key(settings)
    cached = cached_checkpoint(settings, cache_dir) if use_cache else None
    record = _read_record(out)
    if not force and osp.isfile(out) and record.get('key') == key:
        log(f'{out} is up to date (key {key})')
        return record
    if cached is not None and osp.isfile(cached) and not force:
        try:
            _, meta = load_checkpoint(cached)
        except ValueError as e:
            raise ValueError(f'the cached pretrained backbone is unusable: '
                             f'{e}; delete {cached} or pass --force') from e
        if meta.get('key') != key:
            raise ValueError(f'{cached} was built with key {meta.get("key")}'
                             f', not {key}; delete it or pass --force')
        log(f'using the cached {cached}')
    else:
        state, meta = train_backbone(settings, log=log)
        meta['key'] = key
        save_checkpoint(cached or out, state, meta)
    if cached is not None:
        _copy(cached, out)
    record = dict(meta, checkpoint=out, cache=cached)
    atomic_write_json(record_path(out), record)
    log(f'wrote {out}' + (f' (cache: {cached})' if cached else ''))
    return record
