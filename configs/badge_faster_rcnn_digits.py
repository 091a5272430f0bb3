# Gradient-embedding selection (BADGE-like) with the tiny Faster R-CNN on
# the built-in digits set: the experiment of entropy_faster_rcnn_digits.py
# with only the strategy changed. Per image: the mean over its 100 most
# confident proposals of the softmax cross-entropy gradient, under the
# model's own most likely class, w.r.t. the RoI box head's fc_cls; k-means++
# seeding over these embeddings picks the budget.
_base_ = './entropy_faster_rcnn_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='GradientEmbeddingStrategy'),
        # grad_dims: embeddings larger than this (logits x fc_cls inputs;
        # 11 x 256 here) are randomly projected down to it
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05, grad_dims=1024))
]
