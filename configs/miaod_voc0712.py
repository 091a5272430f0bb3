# MI-AOD, RetinaNet R-50 FPN, VOC07+12 pool (16551 images), the paper's
# settings: 5 % labeled at first (827), 2.5 % (413) added a cycle, 7 cycles
# (5 % .. 20 %), 2 images a GPU at lr 1e-3.
#   bash tools/dist_train.sh configs/miaod_voc0712.py 8 --auto-scale-lr
_base_ = [
    './_base_/models/miaod_retinanet_r50_fpn.py',
    './_base_/datasets/voc0712_al.py',
    './_base_/active_learning/miaod_cycle.py',
    './_base_/active_learning/runtime.py',
]

model = dict(bbox_head=dict(num_classes=20))
