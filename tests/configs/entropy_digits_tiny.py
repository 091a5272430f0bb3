# tests/configs/random_digits_tiny.py with entropy selection instead of
# random: the same model, schedule and split, only the strategy differs
# (what a branched comparison needs).
_base_ = ['./random_digits_tiny.py']

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='EntropyStrategy', reduction='max'),
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
