# The built-in detection set: real handwritten digits (scikit-learn) composed
# onto cluttered canvases by tools/make_digits_det.py, in VOC layout with two
# "years" so that the VOC07+12 concatenation path is the one exercised.
# Diff against mmdet's `_base_/datasets/voc0712.py`: dataset type, root,
# image scale, no RepeatDataset, no empty-image filter (global pool indices
# must follow the line order of the trainval files), no RandomFlip (a
# mirrored digit is not a digit), and the per-class VOC metric.
_base_ = 'mmdet::_base_/datasets/voc0712.py'

dataset_type = 'DigitsVOCDataset'
data_root = 'data/digits_det/VOCdevkit/'
backend_args = None
img_scale = (192, 128)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['dataset_type'],
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='DIGITS2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='DIGITS2007/'),
                filter_cfg=None,
                pipeline=train_pipeline,
                backend_args=backend_args),
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='DIGITS2012/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='DIGITS2012/'),
                filter_cfg=None,
                pipeline=train_pipeline,
                backend_args=backend_args)
        ]))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='DIGITS2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='DIGITS2007/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mmdet's VOC mAP plus the AP of every class (`pascal_voc/3_AP50`), which the
# loop stores per cycle in results.json (`per_class_ap`)
val_evaluator = dict(
    type='ClasswiseVOCMetric', metric='mAP', eval_mode='11points')
test_evaluator = val_evaluator
