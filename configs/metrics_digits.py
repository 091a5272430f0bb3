# The random baseline's experiment with the extra evaluation of
# al_plugin.evaluation: the AP of every class per cycle (results.json's
# `per_class_AP`, drawn by `tools/plot_curves.py --per-class`), FROC
# (sensitivity at 1/8 ... 8 false positives per image, and their mean), and
# early stopping within every cycle's training on the validation mAP.
_base_ = './random_digits.py'

val_evaluator = [
    # VOCMetric plus `<class>_AP50` per class (`pascal_voc/3_AP50`)
    dict(type='ClasswiseVOCMetric', metric='mAP', eval_mode='11points'),
    # `froc/mean_sensitivity`, `froc/sensitivity@0.125` ... `@8`
    dict(type='FROCMetric', iou_thr=0.5),
]
test_evaluator = val_evaluator

custom_hooks = [
    dict(type='ActiveSelectionHook', strategy=dict(type='RandomStrategy')),
    # validate every 2 epochs of a cycle; end the cycle's training after 2
    # validations without a gain of 0.001 mAP (the next cycle starts afresh)
    dict(
        type='InCycleEarlyStoppingHook',
        monitor='pascal_voc/mAP',
        interval=2,
        patience=2,
        min_delta=0.001),
]
