# Self-supervised sample mining, threshold variant: only images whose
# uncertain ratio is >= 0.5 are labeled, up to the budget (a cycle may label
# fewer images than the budget).
_base_ = './mining_digits.py'

# certain_thr / uncertain_thr: the defaults, 0.6 / 0.3, as mining_digits.py
custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='SelfSupervisedMiningStrategy',
            mode='threshold',
            ratio_thr=0.5))
]
