# Self-supervised sample mining with pseudo labels: as mining_digits.py, and
# the certain boxes (score >= 0.6) of the images left unlabeled join the next
# cycle's training as annotations (written to pseudo_labels_<c>.json).
_base_ = './mining_digits.py'

# certain_thr / uncertain_thr: the defaults, 0.6 / 0.3, as mining_digits.py
custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='SelfSupervisedMiningStrategy',
            use_pseudo_labels=True))
]
