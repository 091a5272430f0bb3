# Semi-supervised cycles with any strategy: entropy_digits.py's experiment,
# and the detections scoring >= 0.9 on the pool images the selection left
# out train the next cycle as annotations, each such image weighing half a
# labeled one in the loss (pseudo_labels_<c>.json; never in X_L_<c>.npy or
# cycle<c>/*.txt; recomputed every cycle; results.json records the SL/AL
# ratio, model-made over human-made boxes). The loss weight needs a head
# that weighs images: mmdet's RetinaHead with al_plugin's per-image weights.
_base_ = './entropy_digits.py'

model = dict(bbox_head=dict(type='ImageWeightedRetinaHead'))

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='EntropyStrategy', reduction='max'),
        scorer_cfg=dict(max_boxes=100, box_score_thr=0.05),
        pseudo_labels=dict(
            score_thr=0.9,  # ASM's certain threshold
            weight=0.5,  # loss weight of a pseudo-labeled image
            mode='all',  # or ASM_core's 'v1' / 'v1+' with num_per_round=K
        ))
]
