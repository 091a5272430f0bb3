# Localization tightness (Kao et al., ACCV 2018) on the built-in digits set:
# the tiny Faster R-CNN experiment of entropy_faster_rcnn_digits.py with
# only the strategy changed. Per candidate box: T = IoU(RPN proposal, the
# box the RoI head refines it into) and P = its top class probability;
# per image 1 - min over its boxes of |T + P - 1| (a box whose localization
# and classification disagree makes the image informative). Needs a
# two-stage detector: on a RetinaNet config it fails at config load.
_base_ = './entropy_faster_rcnn_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='LocalizationTightnessStrategy', reduction='min'),
        # the 100 most confident proposals an image, none below P = 0.05
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05))
]
