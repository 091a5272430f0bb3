auto_scale_lr = dict(base_batch_size=8, enable=False)
backend_args = None
custom_hooks = [
    dict(strategy=dict(type='RandomStrategy'), type='ActiveSelectionHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'al_plugin',
    ])
data_root = 'data/digits_det/VOCdevkit/'
dataset_type = 'DigitsVOCDataset'
default_hooks = dict(
    al_state=dict(type='ActiveLearningStateHook'),
    al_visualization=dict(type='ActiveLearningVisualizationHook'),
    checkpoint=dict(
        _scope_='mmdet',
        backend_args=dict(backend='atomic_local'),
        interval=1,
        max_keep_ckpts=2,
        type='CheckpointHook'),
    checkpoint_compat=dict(type='CheckpointCompatHook'),
    logger=dict(_scope_='mmdet', interval=20, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmdet', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmdet', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmdet', type='IterTimerHook'),
    visualization=dict(_scope_='mmdet', type='DetVisualizationHook'))
default_scope = 'mmdet'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
find_unused_parameters = True
img_scale = (
    192,
    128,
)
launcher = 'none'
load_from = 'work_dirs/benchmarks/label_efficiency_v2/digits/random/seed0/trained_cycle_1.pth'
log_level = 'INFO'
log_processor = dict(
    _scope_='mmdet',
    by_epoch=True,
    type='ActiveLearningLogProcessor',
    window_size=50)
model = dict(
    _scope_='mmdet',
    backbone=dict(
        base_channels=16,
        depth=18,
        frozen_stages=-1,
        init_cfg=dict(
            checkpoint='data/pretrained/glyph_resnet18_tiny.pth',
            type='Pretrained'),
        norm_cfg=dict(requires_grad=True, type='BN'),
        norm_eval=False,
        num_stages=4,
        out_indices=(
            0,
            1,
            2,
            3,
        ),
        style='pytorch',
        type='ResNet'),
    bbox_head=dict(
        anchor_generator=dict(
            octave_base_scale=2,
            ratios=[
                0.5,
                1.0,
                2.0,
            ],
            scales_per_octave=3,
            strides=[
                8,
                16,
                32,
                64,
                128,
            ],
            type='AnchorGenerator'),
        bbox_coder=dict(
            target_means=[
                0.0,
                0.0,
                0.0,
                0.0,
            ],
            target_stds=[
                1.0,
                1.0,
                1.0,
                1.0,
            ],
            type='DeltaXYWHBBoxCoder'),
        feat_channels=64,
        in_channels=64,
        loss_bbox=dict(loss_weight=1.0, type='L1Loss'),
        loss_cls=dict(
            alpha=0.25,
            gamma=2.0,
            loss_weight=1.0,
            type='FocalLoss',
            use_sigmoid=True),
        num_classes=10,
        stacked_convs=2,
        type='RetinaHead'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        pad_size_divisor=32,
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='DetDataPreprocessor'),
    neck=dict(
        add_extra_convs='on_input',
        in_channels=[
            16,
            32,
            64,
            128,
        ],
        num_outs=5,
        out_channels=64,
        start_level=1,
        type='FPN'),
    test_cfg=dict(
        max_per_img=100,
        min_bbox_size=0,
        nms=dict(iou_threshold=0.5, type='nms'),
        nms_pre=1000,
        score_thr=0.05),
    train_cfg=dict(
        allowed_border=-1,
        assigner=dict(
            ignore_iof_thr=-1,
            min_pos_iou=0,
            neg_iou_thr=0.4,
            pos_iou_thr=0.5,
            type='MaxIoUAssigner'),
        debug=False,
        pos_weight=-1,
        sampler=dict(type='PseudoSampler')),
    type='RetinaNet')
optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    optimizer=dict(lr=0.01, momentum=0.9, type='SGD', weight_decay=0.0005),
    type='OptimWrapper')
param_scheduler = []
randomness = dict(seed=0)
resume = True
test_cfg = dict(type='TestLoop')
test_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmdet',
        ann_file='DIGITS2007/ImageSets/Main/test.txt',
        backend_args=None,
        data_prefix=dict(sub_data_root='DIGITS2007/'),
        data_root='data/digits_det/VOCdevkit/',
        pipeline=[
            dict(backend_args=None, type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                192,
                128,
            ), type='Resize'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                meta_keys=(
                    'img_id',
                    'img_path',
                    'ori_shape',
                    'img_shape',
                    'scale_factor',
                ),
                type='PackDetInputs'),
        ],
        test_mode=True,
        type='DigitsVOCDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(_scope_='mmdet', shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    _scope_='mmdet',
    eval_mode='11points',
    metric='mAP',
    type='ClasswiseVOCMetric')
test_pipeline = [
    dict(backend_args=None, type='LoadImageFromFile'),
    dict(keep_ratio=True, scale=(
        192,
        128,
    ), type='Resize'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        meta_keys=(
            'img_id',
            'img_path',
            'ori_shape',
            'img_shape',
            'scale_factor',
        ),
        type='PackDetInputs'),
]
train_cfg = dict(
    X_L_0_repeat=4,
    X_L_repeat=1,
    cycles=[
        0,
        1,
        2,
    ],
    epochs=8,
    lr_decay_epochs=[
        7,
    ],
    reset_weights=False,
    splitter=dict(
        X_L_0_size=500, X_S_size=100, seed=0, type='ActiveDatasetSplitter'),
    type='ActiveLearningLoop')
train_dataloader = dict(
    batch_sampler=dict(_scope_='mmdet', type='AspectRatioBatchSampler'),
    batch_size=8,
    dataset=dict(
        datasets=[
            dict(
                ann_file='DIGITS2007/ImageSets/Main/trainval.txt',
                backend_args=None,
                data_prefix=dict(sub_data_root='DIGITS2007/'),
                data_root='data/digits_det/VOCdevkit/',
                filter_cfg=None,
                pipeline=[
                    dict(backend_args=None, type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(keep_ratio=True, scale=(
                        192,
                        128,
                    ), type='Resize'),
                    dict(type='PackDetInputs'),
                ],
                type='DigitsVOCDataset'),
            dict(
                ann_file='DIGITS2012/ImageSets/Main/trainval.txt',
                backend_args=None,
                data_prefix=dict(sub_data_root='DIGITS2012/'),
                data_root='data/digits_det/VOCdevkit/',
                filter_cfg=None,
                pipeline=[
                    dict(backend_args=None, type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(keep_ratio=True, scale=(
                        192,
                        128,
                    ), type='Resize'),
                    dict(type='PackDetInputs'),
                ],
                type='DigitsVOCDataset'),
        ],
        ignore_keys=[
            'dataset_type',
        ],
        type='ConcatDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(_scope_='mmdet', shuffle=True, type='DefaultSampler'))
train_pipeline = [
    dict(backend_args=None, type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(keep_ratio=True, scale=(
        192,
        128,
    ), type='Resize'),
    dict(type='PackDetInputs'),
]
val_cfg = dict(type='ValLoop')
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmdet',
        ann_file='DIGITS2007/ImageSets/Main/test.txt',
        backend_args=None,
        data_prefix=dict(sub_data_root='DIGITS2007/'),
        data_root='data/digits_det/VOCdevkit/',
        pipeline=[
            dict(backend_args=None, type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                192,
                128,
            ), type='Resize'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                meta_keys=(
                    'img_id',
                    'img_path',
                    'ori_shape',
                    'img_shape',
                    'scale_factor',
                ),
                type='PackDetInputs'),
        ],
        test_mode=True,
        type='DigitsVOCDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(_scope_='mmdet', shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    _scope_='mmdet',
    eval_mode='11points',
    metric='mAP',
    type='ClasswiseVOCMetric')
vis_backends = [
    dict(_scope_='mmdet', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmdet',
    name='visualizer',
    type='DetLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/benchmarks/label_efficiency_v2/digits/branch_cycle1/random/seed0'
