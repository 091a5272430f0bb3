# Hybrid selection on the built-in digits set: the 3 x budget most uncertain
# images by entropy, then core-set diversity inside them. The random
# baseline's experiment with only the strategy changed.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='HybridStrategy',
            uncertainty=dict(type='EntropyStrategy'),
            diversity=dict(type='CoreSetStrategy'),
            top_n_factor=3))
]
