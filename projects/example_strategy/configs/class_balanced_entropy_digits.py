# Class-balanced entropy on the built-in digits set (long-tailed: the
# rarest digit is about 1/10 as frequent as the commonest): the random
# baseline's experiment with only the strategy changed.
_base_ = '../../../configs/random_digits.py'

# al_plugin, then the project package that registers the strategy
custom_imports = dict(
    imports=['al_plugin', 'projects.example_strategy.class_balanced'],
    allow_failed_imports=False)
custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='ClassBalancedEntropyStrategy',
            power=1.0,  # w_c = (inverse smoothed class share) ** power
            smoothing=1.0,  # pseudo-count of every class
            reduction='max'),  # image score: its highest weighted entropy
        # class_probs: each image's 100 most confident anchors (>= 0.05)
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
