# Plain mmdet RetinaNet (tiny, random init) on the built-in digits set: shows
# that the data is learnable.  `make data` first, then
#   python tools/train.py configs/retinanet_digits.py
_base_ = [
    './_base_/models/retinanet_tiny.py',
    './_base_/datasets/digits_voc.py',
    './_base_/schedules/sgd_digits.py',
    './_base_/default_runtime.py',
]
