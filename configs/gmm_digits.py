# Gaussian-mixture diversity (seed docker_al_v1's `mixture`) on the built-in
# digits set: the random baseline's experiment with only the strategy
# changed. The pool's pooled FPN features are split into 8 Gaussian
# components; each gets a share of the budget proportional to its size,
# filled with its images of highest entropy.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='GaussianMixtureStrategy',
            num_components=8,  # K
            covariance_type='diag',
            pca_dims=32,  # features reduced to this many before the fit
            uncertainty=dict(type='EntropyStrategy', reduction='max')),
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
