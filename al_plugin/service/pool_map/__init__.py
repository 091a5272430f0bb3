"""The pool map: where the labeled, the newly selected and the unlabeled
images lie in the detector's feature space, and what it sees in them.

Each image is one point of a 2-D t-SNE (scikit-learn) of its pooled neck
features (the ``features`` output of :mod:`al_plugin.engine.scoring`: each
FPN level's mean over the image's own cells, ``(N, D)``). The features are
standardised per dimension and reduced to at most 50 dimensions by PCA
first (t-SNE's cost grows with the dimension). Both are seeded; t-SNE
runs 500 iterations (:data:`TSNE_ITERATIONS`).

The **dominant class** of an image comes from the detector's class
probabilities, not from its NMS-filtered detections: the class of its most
confident candidate box (anchor of a dense head, proposal of a two-stage
one), i.e. the ``class_probs`` output with ``max_boxes=1`` and no score
threshold (``box_score_thr=0``). Every readable image has one, also when
the model detects nothing above its test threshold. (Summing over many
low-confidence candidates instead lets a class the background leans to
win almost everywhere.)

At most ``max_points`` (:data:`MAX_POINTS`: 500) images are drawn
(:func:`sample_points`): every newly selected image, and a seeded uniform
sample of the others (labeled and unlabeled alike, so their proportions
are kept). Only the images drawn are read by the model.

The map is a JSON record (:func:`map_record`) and a PNG of two panels
(:func:`draw_pool_map`): coloured by labeled / selected / unlabeled, and
by dominant class (marker by category). It is made for an experiment's
cycle (:func:`experiment_map`, ``tools/analysis/pool_map.py``) and for a
selection job of the service (:func:`images_map`).

Importing this package imports numpy only; scikit-learn, matplotlib and
the model stack load when used. :mod:`.embedding` holds the arrays' side,
:mod:`.drawing` the PNG, :mod:`.sources` the model passes.
"""
from .drawing import class_colours, draw_pool_map
from .embedding import (CATEGORIES, MAX_POINTS, PCA_DIMS, TSNE_ITERATIONS,
                        dominant_classes, embed_2d, map_record,
                        sample_points)
from .sources import (CLASS_OPTIONS, MAP_OUTPUTS, build_map, cycle_categories,
                      experiment_map, hook_scoring, images_map,
                      map_scorer_cfg, score_map)

__all__ = [
    'CATEGORIES', 'CLASS_OPTIONS', 'MAP_OUTPUTS', 'MAX_POINTS', 'PCA_DIMS',
    'TSNE_ITERATIONS',
    'build_map', 'class_colours', 'cycle_categories', 'dominant_classes',
    'draw_pool_map', 'embed_2d', 'experiment_map', 'hook_scoring',
    'images_map', 'map_record', 'map_scorer_cfg', 'sample_points', 'score_map'
]
