# Ratio selection (seed docker_al_v1's `ratio`) on the built-in digits set:
# the random baseline's experiment with only the strategy changed. Per
# image: the largest p_top2 / p_top1 among its 100 most confident anchors.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='RatioStrategy', reduction='max'),
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
