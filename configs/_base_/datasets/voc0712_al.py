# VOC07+12 trainval as the active-learning pool, VOC07 test for evaluation.
# Diff against mmdet's `_base_/datasets/voc0712.py`: no RepeatDataset (the
# loop repeats X_L / X_U itself) and no empty-image filter (global pool
# indices follow the line order of the two trainval.txt files: 0..5010 are
# VOC2007, 5011..16550 VOC2012); the per-class VOC metric.
_base_ = 'mmdet::_base_/datasets/voc0712.py'

dataset_type = 'VOCDataset'
data_root = 'data/VOCdevkit/'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['dataset_type'],
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/'),
                filter_cfg=None,
                pipeline=train_pipeline,
                backend_args=backend_args),
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='VOC2012/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2012/'),
                filter_cfg=None,
                pipeline=train_pipeline,
                backend_args=backend_args)
        ]))
# mmdet's VOC mAP plus the AP of every class (`pascal_voc/dog_AP50`), which
# the loop stores per cycle in results.json (`per_class_ap`)
val_evaluator = dict(
    type='ClasswiseVOCMetric', metric='mAP', eval_mode='11points')
test_evaluator = val_evaluator
