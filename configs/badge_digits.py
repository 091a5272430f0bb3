# Gradient-embedding selection (BADGE-like) on the built-in digits set: the
# random baseline's experiment with only the strategy changed. Per image:
# the mean over its 100 most confident anchors of the focal-loss gradient,
# under the model's own most likely class, w.r.t. the classification conv
# (retina_cls); k-means++ seeding over these embeddings picks the budget.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='GradientEmbeddingStrategy'),
        # grad_dims: embeddings larger than this (classes x classifier
        # inputs; 10 x 64 here) are randomly projected down to it
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05, grad_dims=1024))
]
