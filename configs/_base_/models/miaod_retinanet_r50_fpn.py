# MI-AOD (Yuan et al., CVPR 2021): mmdet's RetinaNet R-50 FPN with the MI-AOD
# detector and head, for VOC07+12. Everything else (ResNet-50 from
# torchvision weights with frozen_stages=1 and norm_eval, FPN P3-P7 256 ch,
# 9 anchors, focal loss gamma 2 / alpha 0.25, L1 box loss, MaxIoUAssigner
# 0.5 / 0.4 / 0, nms_pre 1000, score_thr 0.05, NMS 0.5, 100 boxes) is
# mmdet's `_base_/models/retinanet_r50_fpn.py`, unchanged.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    type='MIAOD',  # dispatches labeled / unlabeled (min or max step) samples
    bbox_head=dict(
        # f_1, f_2 (the adversarial instance classifiers), f_r (the box
        # regressor) and f_mil (the MIL classifier): 4 towers of 4 convs
        type='MIAODHead',
        num_classes=20),
    train_cfg=dict(param_lambda=0.5))  # lambda, the discrepancy weight
