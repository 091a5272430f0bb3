# k-means diversity on the built-in digits set: the random baseline's
# experiment with only the strategy changed. The pool's pooled FPN features
# are clustered into `budget` clusters; the image nearest each centre is
# picked.
_base_ = './random_digits.py'

custom_hooks = [
    dict(type='ActiveSelectionHook', strategy=dict(type='KMeansStrategy'))
]
