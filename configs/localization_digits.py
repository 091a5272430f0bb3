# Localization stability on the built-in digits set: the random baseline's
# experiment with only the strategy changed. Each pool image is detected
# twice, as is and flipped horizontally (boxes mapped back); images whose
# detections (score >= 0.3) move most (1 - score-weighted best IoU) are
# picked. A second backbone pass over the pool, for the flipped copies.
# (A mirrored digit is not a digit, so on this set the flip is a harder,
# unseen view; on VOC / COCO it is the usual training augmentation.)
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='LocalizationStabilityStrategy', score_thr=0.3))
]
