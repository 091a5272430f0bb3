"""The pool map's arrays: which images it shows, their dominant class,
their 2-D t-SNE coordinates and the JSON record (see
:mod:`al_plugin.service.pool_map`)."""
from typing import Dict, Optional, Sequence

import numpy as np

#: the categories of a point, in drawing order (the last on top)
CATEGORIES = ('unlabeled', 'labeled', 'selected')
#: the most images a map shows unless told otherwise
MAX_POINTS = 500
#: dimensions kept by the PCA before t-SNE
PCA_DIMS = 50
#: t-SNE iterations (scikit-learn's default is 1000; the first 250 are its
#: early exaggeration): half the cost, enough for an overview
TSNE_ITERATIONS = 500


def sample_points(categories: Sequence[str], max_points: int = MAX_POINTS,
                  seed: int = 0) -> np.ndarray:
    """The images a map shows, at most ``max_points``.

    Every ``'selected'`` image is kept (a seeded sample of them if they
    alone are more), the rest is a seeded uniform sample of the others.

    Args:
        categories (Sequence[str]): ``(N, )`` each image's category.
        max_points (int): The cap, >= 1.
        seed (int): Seed of the sample.

    Returns:
        np.ndarray: ``(M, )`` int64 sorted positions into ``categories``,
        ``M = min(N, max_points)``.
    """
    if max_points < 1:
        raise ValueError(f'max_points must be >= 1, got {max_points}')
    categories = np.asarray(categories, dtype=object)
    unknown = set(categories.tolist()) - set(CATEGORIES)
    if unknown:
        raise ValueError(f'unknown categories {sorted(unknown)}: expected '
                         f'{list(CATEGORIES)}')
    rng = np.random.default_rng(seed)
    selected = np.flatnonzero(categories == 'selected')
    others = np.flatnonzero(categories != 'selected')
    if len(selected) >= max_points:
        return np.sort(rng.choice(selected, max_points, replace=False))
    room = max_points - len(selected)
    if len(others) > room:
        others = rng.choice(others, room, replace=False)
    return np.sort(np.concatenate([selected, others]).astype(np.int64))


def dominant_classes(class_probs: Sequence[np.ndarray],
                     num_classes: int) -> np.ndarray:
    """Each image's dominant class: the class of the highest probability
    over its candidate boxes.

    Args:
        class_probs (Sequence[np.ndarray]): ``(N, )`` the ``class_probs``
            output, element i ``(n_i, C)``.
        num_classes (int): C.

    Returns:
        np.ndarray: ``(N, )`` int64 class indices, -1 for an image without
        candidate boxes.
    """
    labels = np.full(len(class_probs), -1, dtype=np.int64)
    for i, probs in enumerate(class_probs):
        probs = np.asarray(probs, dtype=np.float64).reshape(-1, num_classes)
        if len(probs):
            labels[i] = int(np.argmax(probs.max(axis=0)))
    return labels


def embed_2d(features: np.ndarray, seed: int = 0,
             perplexity: float = 30.0,
             max_iter: int = TSNE_ITERATIONS) -> np.ndarray:
    """A 2-D t-SNE of feature rows.

    Args:
        features (np.ndarray): ``(M, D)`` one row per image.
        seed (int): Seed of the PCA and t-SNE.
        perplexity (float): t-SNE's perplexity, lowered to ``(M - 1) / 3``
            for few points.

    Returns:
        np.ndarray: ``(M, 2)`` float64 coordinates. Under 5 points there
        is no t-SNE: the PCA's first two components (zeros where there
        are fewer).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f'features must be (M, D), got {features.shape}')
    if not np.isfinite(features).all():
        raise ValueError('features hold NaN or infinite values')
    num = len(features)
    coords = np.zeros((num, 2))
    if num < 2:
        return coords
    spread = features.std(axis=0)
    scaled = (features - features.mean(axis=0)) / np.where(
        spread > 1e-12, spread, 1.0)
    dims = min(PCA_DIMS, num, scaled.shape[1])
    reduced = PCA(n_components=dims, random_state=seed).fit_transform(scaled)
    if num < 5:
        coords[:, :min(2, dims)] = reduced[:, :2]
        return coords
    return TSNE(n_components=2, perplexity=min(perplexity, (num - 1) / 3),
                init='pca', learning_rate='auto',
                max_iter=max_iter, random_state=seed).fit_transform(reduced)


def map_record(names: Sequence[str], categories: Sequence[str],
               coords: np.ndarray, labels: np.ndarray,
               classes: Sequence[str], indices: Optional[Sequence] = None,
               total: Optional[Dict[str, int]] = None, **info) -> dict:
    """The JSON record of a map.

    Args:
        names (Sequence[str]): ``(M, )`` the images shown (ids or paths).
        categories (Sequence[str]): ``(M, )`` theirs (:data:`CATEGORIES`).
        coords (np.ndarray): ``(M, 2)`` :func:`embed_2d`.
        labels (np.ndarray): ``(M, )`` :func:`dominant_classes`.
        classes (Sequence[str]): The class names.
        indices (Sequence, optional): ``(M, )`` pool indices, kept as
            ``index``.
        total (dict, optional): Images per category before sampling.
        **info: More top-level fields (``seed``, ``cycle``, ``broken``...).

    Returns:
        dict: ``classes``, ``counts`` (category -> images shown),
        ``total``, ``points`` (``image``, ``category``, ``label`` (-1:
        none), ``class`` (name or None), ``x``, ``y`` and ``index``) and
        ``info``'s fields.
    """
    points = []
    for i, name in enumerate(names):
        label = int(labels[i])
        point = dict(image=str(name), category=str(categories[i]),
                     label=label, x=float(coords[i, 0]),
                     y=float(coords[i, 1]))
        point['class'] = classes[label] if label >= 0 else None
        if indices is not None:
            point['index'] = int(indices[i])
        points.append(point)
    counts = {c: sum(p['category'] == c for p in points) for c in CATEGORIES}
    return dict(info, classes=list(classes), counts=counts,
                total=dict(total or counts), points=points)
