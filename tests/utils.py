"""Helpers shared by the tests."""
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from al_plugin.models.pretrain import BACKBONE


def tiny_miaod_model_cfg(num_classes: int = 3) -> ConfigDict:
    """A tiny MI-AOD RetinaNet for CPU tests on 64x64 inputs.

    ResNet-18 at 1/4 width (``base_channels=16``), a 64-channel FPN and
    head with 2 stacked convs per tower; random init, nothing downloaded.

    Args:
        num_classes (int): C. Defaults to 3.

    Returns:
        ConfigDict: A model config for ``MODELS.build``.
    """
    return ConfigDict(
        type='MIAOD',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_size_divisor=32),
        backbone=dict(type='ResNet', **BACKBONE, init_cfg=None),
        neck=dict(
            type='FPN',
            in_channels=[16, 32, 64, 128],
            out_channels=64,
            start_level=1,
            add_extra_convs='on_input',
            num_outs=5),
        bbox_head=dict(
            type='MIAODHead',
            num_classes=num_classes,
            in_channels=64,
            stacked_convs=2,
            feat_channels=64,
            anchor_generator=dict(
                type='AnchorGenerator',
                octave_base_scale=2,
                scales_per_octave=3,
                ratios=[0.5, 1.0, 2.0],
                strides=[8, 16, 32, 64, 128]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(
                type='FocalLoss',
                use_sigmoid=True,
                gamma=2.0,
                alpha=0.25,
                loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.4,
                min_pos_iou=0,
                ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'),
            allowed_border=-1,
            pos_weight=-1,
            param_lambda=0.5,
            debug=False),
        test_cfg=dict(
            nms_pre=1000,
            min_bbox_size=0,
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100))


def det_data_sample(bboxes=(), labels=(), size: int = 64,
                    **metainfo) -> DetDataSample:
    """A :class:`DetDataSample` of a ``size`` x ``size`` image (already
    resized and padded) with the given GT boxes ``(x1, y1, x2, y2)``.

    Args:
        bboxes (Sequence): GT boxes. Defaults to none.
        labels (Sequence[int]): Their labels.
        size (int): Image side. Defaults to 64.
        **metainfo: More meta information, e.g. ``unlabeled=True``.
    """
    shape = (size, size)
    sample = DetDataSample(
        metainfo=dict(
            img_shape=shape,
            ori_shape=shape,
            pad_shape=shape,
            batch_input_shape=shape,
            scale_factor=(1., 1.),
            **metainfo))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(bboxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return sample
