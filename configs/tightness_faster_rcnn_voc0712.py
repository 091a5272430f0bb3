# Localization tightness (Kao et al., ACCV 2018) with mmdet's Faster R-CNN
# R-50 FPN (ResNet-50 from torchvision://resnet50) on the VOC07+12 pool,
# through the same active-learning bases as the digits experiments. Split
# as MI-AOD's VOC runs (5 % labeled first, 2.5 % a cycle, 7 cycles), and in
# every cycle mmdet's VOC recipe for Faster R-CNN
# (pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py): 4 epochs over X_L
# repeated 3 times, lr 0.01 x0.1 for the last epoch, 2 images a GPU x 8.
#   bash tools/dist_train.sh configs/tightness_faster_rcnn_voc0712.py 8
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    './_base_/datasets/voc0712_al.py',
    './_base_/active_learning/label_cycle.py',
    './_base_/active_learning/runtime.py',
]

model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
train_cfg = dict(
    cycles=[0, 1, 2, 3, 4, 5, 6],
    epochs=4,  # label-training epochs per cycle
    X_L_repeat=3,  # mmdet's RepeatDataset(times=3) for VOC
    lr_decay_epochs=[3],  # mmdet's milestones=[3]
    splitter=dict(
        X_L_0_size=0.05,  # initial labeled set X_L_0 (827 of 16551)
        X_S_size=0.025))  # budget per cycle (413)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
# lr above is for 16 images (8 GPUs x 2); `--auto-scale-lr` rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=16)

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        # per box J = |T + P - 1|, T = IoU(proposal, refined box), P its
        # top class probability; per image min_j J, least consistent first
        strategy=dict(type='LocalizationTightnessStrategy', reduction='min'),
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
