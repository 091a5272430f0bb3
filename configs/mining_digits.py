# Self-supervised sample mining (ASM) on the built-in digits set: the random
# baseline's experiment with only the strategy changed. Per image, its
# detections with score >= 0.6 are "certain" and those in [0.3, 0.6)
# "uncertain"; images with the highest uncertain / (certain + uncertain)
# ratio are labeled first.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='SelfSupervisedMiningStrategy',
            certain_thr=0.6,
            uncertain_thr=0.3,
            mode='topk'))
]
