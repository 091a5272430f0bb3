# Core-set (greedy k-center on pooled FPN features) on the built-in digits
# set: the random baseline's experiment with only the strategy changed.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='CoreSetStrategy', chunk_size=4096))
]
