"""One service job, in its own process:
``python -m al_plugin.service.worker <job folder> <service pid>``.

Reads the job's ``spec`` (every path already resolved and checked by the
service), does the work through the package's public API, writes
``progress.json`` as it goes and ``result.json`` (plus the exports) at the
end. It ends itself when the service that started it is gone (killed), so
no orphan keeps a model busy; the restarted service marks the job failed.
"""
import os
import os.path as osp
import sys
import threading
import time

from al_plugin.service.jobs import (JOB_FILE, PROGRESS_FILE, RESULT_FILE,
                                    read_json)
from al_plugin.service.labels import coco_names, match_labeled, voc_names
from al_plugin.utils import atomic_write_json


class ProgressFile:
    """A progress listener that writes ``progress.json`` at most every
    ``interval`` seconds, and at the end of each pass.

    ``progress.json`` holds the current pass (``stage``, ``done``,
    ``total``, ``rate``, ``elapsed``, ``eta``) and ``passes``: the last
    snapshot of every pass that ended (a snapshot with ``ended=True``), in
    order, so a client that polls less often than passes end still reads
    each pass's count and rate.
    """

    def __init__(self, folder: str, interval: float = 0.5) -> None:
        self.path = osp.join(folder, PROGRESS_FILE)
        self.interval = interval
        self.passes = []
        self._written = 0.0

    def __call__(self, snapshot: dict) -> None:
        now = time.monotonic()
        ended = snapshot.get('ended', False)
        if now - self._written < self.interval and not ended and \
                snapshot['done'] < snapshot['total']:
            return
        self._written = now
        fields = dict(stage=snapshot['desc'], **{
            k: snapshot[k]
            for k in ('done', 'total', 'rate', 'elapsed', 'eta')
        })
        if ended:
            self.passes.append(fields)
        self.write(**fields)

    def write(self, **fields) -> None:
        atomic_write_json(self.path,
                          dict(fields, passes=self.passes, time=time.time()))


#: processes this worker started (a training), ended with it
CHILDREN = []


def watch_parent(parent: int, interval: float = 1.0) -> None:
    """End this process, and the processes it started, when its parent
    (the service, process ``parent``: passed by it, as it may be gone
    before this runs) is gone."""

    def watch():
        while True:
            if os.getppid() != parent:
                for child in CHILDREN:
                    if child.poll() is None:
                        child.kill()
                os._exit(3)
            time.sleep(interval)

    threading.Thread(target=watch, name='watch-service', daemon=True).start()


def pool_files(spec: dict) -> list:
    """The images of the request, relative to ``spec['images_root']``."""
    from al_plugin.datasets.image_folder import ImageFolderDataset
    if spec.get('files') is not None:
        return list(spec['files'])
    listing = ImageFolderDataset(data_root=spec['images_root'],
                                 lazy_init=True).load_data_list()
    return [info['img_id'] for info in listing]


def label_names(labeled: dict, images_root: str) -> list:
    """What the request's labels name (see :mod:`.labels`)."""
    if labeled['kind'] == 'coco':
        return coco_names(labeled['path'])
    if labeled['kind'] == 'voc':
        return voc_names(labeled['path'])
    return [
        osp.relpath(path, images_root).replace(os.sep, '/')
        for path in labeled['paths']
    ]


def selection_result(spec: dict, query, files: list, labeled: set,
                     unmatched: int) -> dict:
    """``result.json`` of a select job: the picks, best first, with their
    scores and boxes; the skipped images; every pool image's score."""
    coco = query.coco
    classes = {c['id']: c['name'] for c in coco['categories']}
    root = coco['info']['image_root']
    boxes = {image['id']: [] for image in coco['images']}
    for ann in coco['annotations']:
        boxes[ann['image_id']].append(
            dict(bbox=ann['bbox'], label=ann['category_id'] - 1,
                 **{'class': classes[ann['category_id']]},
                 score=ann['score']))
    path_boxes = {
        osp.join(root, image['file_name']): boxes[image['id']]
        for image in coco['images']
    }

    def rel(path):
        return osp.relpath(path, spec['data_root']).replace(os.sep, '/')

    selected, skipped, scores = [], [], {}
    for path, row in query.table.items():
        if 'error' in row:
            skipped.append(dict(image=rel(path), error=row['error']))
            continue
        scores[rel(path)] = row['score']
        if row['selected']:
            selected.append(dict(rank=row['rank'], image=rel(path),
                                 score=row['score'],
                                 boxes=path_boxes.get(path, [])))
    return dict(
        strategy=query.strategy,
        budget=spec['budget'],
        num_images=len(files),
        num_labeled=len(labeled),
        labels_unmatched=unmatched,
        num_pool=len(files) - len(labeled),
        selected=selected,
        skipped=skipped,
        scores=scores)


def write_pool_map(spec: dict, folder: str, cfg, model, query, files: list,
                   labeled: set, progress: ProgressFile) -> tuple:
    """The pool map of a select job (:mod:`al_plugin.service.pool_map`): the
    labeled, selected and unlabeled images (readable ones) in one more
    pass for their features; ``pool_map.json`` (points named by their path
    under the data root) and ``pool_map.png`` in the job's folder."""
    from al_plugin.service.pool_map import draw_pool_map, images_map
    root = spec['images_root']
    names, categories = [], []
    for name in files:
        row = query.table.get(osp.abspath(osp.join(root, name)), {})
        if name in labeled or 'selected' in row and 'error' not in row:
            names.append(name)
            categories.append('labeled' if name in labeled else
                              'selected' if row['selected'] else 'unlabeled')
    record = images_map(cfg, model, spec['checkpoint'], root, names,
                        categories, spec.get('strategy'), spec.get('options'),
                        seed=spec.get('seed') or 0, listener=progress)
    for item in record['points'] + record['broken']:
        item['image'] = osp.relpath(osp.join(root, item['image']),
                                    spec['data_root']).replace(os.sep, '/')
    paths = (osp.join(folder, 'pool_map.json'),
             osp.join(folder, 'pool_map.png'))
    atomic_write_json(paths[0], record)
    draw_pool_map(record, paths[1], title=f'pool map of job '
                  f'{osp.basename(folder)} ({query.strategy})')
    return paths


def run_select(spec: dict, folder: str, progress: ProgressFile) -> dict:
    """Score the pool (the images less the labeled ones), pick, export."""
    import torch
    from mmengine.config import Config

    from al_plugin.engine.export import load_detector, write_export
    from al_plugin.engine.image_query import Images, query_images
    progress.write(stage='loading', done=0, total=None)
    root = spec['images_root']
    files = pool_files(spec)
    labeled, unmatched = set(), 0
    if spec.get('labeled'):
        labeled, unmatched = match_labeled(
            files, label_names(spec['labeled'], root))
    pool = [f for f in files if f not in labeled]
    if not pool:
        raise ValueError(f'all {len(files)} images are labeled: nothing to '
                         'select from')
    cfg = Config.fromfile(spec['config'])
    model = load_detector(
        cfg, spec['checkpoint'],
        'cuda' if torch.cuda.is_available() else 'cpu')
    query = query_images(
        cfg, model, spec['checkpoint'], Images(root, pool), spec['budget'],
        strategy=spec.get('strategy'), options=spec.get('options'),
        labeled=Images(root, sorted(labeled)) if labeled else None,
        score_thr=spec['score_thr'], seed=spec.get('seed'),
        listener=progress, info=dict(job=osp.basename(folder)))
    exports = write_export(folder, 'selection', query.coco)
    result = selection_result(spec, query, files, labeled, unmatched)
    exports += write_pool_map(spec, folder, cfg, model, query, files,
                              labeled, progress)
    result['exports'] = {
        kind: osp.relpath(path, spec['work_dir']).replace(os.sep, '/')
        for kind, path in zip(('coco', 'images', 'pool_map', 'pool_map_png'),
                              exports)
    }
    return result


def run_train(spec: dict, folder: str, progress: ProgressFile) -> dict:
    """See :func:`.training.run_train`."""
    from al_plugin.service.training import run_train as train
    return train(spec, folder, progress, CHILDREN)


def run_evaluate(spec: dict, folder: str, progress: ProgressFile) -> dict:
    """See :func:`.evaluate.run_evaluate`."""
    from al_plugin.service.evaluate import run_evaluate as evaluate
    return evaluate(spec, folder, progress)


RUNNERS = dict(select=run_select, train=run_train, evaluate=run_evaluate)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder, parent = argv[0], int(argv[1])
    watch_parent(parent)
    job = read_json(osp.join(folder, JOB_FILE))
    result = RUNNERS[job['kind']](job['spec'], folder, ProgressFile(folder))
    atomic_write_json(osp.join(folder, RESULT_FILE), result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
