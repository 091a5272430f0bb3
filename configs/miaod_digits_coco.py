# MI-AOD on the built-in digits set read from its COCO json instead of its
# VOC tree: one json for the pool (4000 images, in the json's order), one
# for the test split, no years, evaluated by mmdet's CocoMetric (bbox_mAP,
# bbox_mAP_50, ...). configs/miaod_digits.py otherwise; the data part is
# written by user_coco_data, as a config for your own COCO json is (README,
# "Your own data").
_base_ = './miaod_digits.py'
from al_plugin.datasets import user_coco_data  # noqa: E402

data_root = 'data/digits_det/'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
(train_dataloader, val_dataloader, test_dataloader, val_evaluator,
 test_evaluator) = user_coco_data(_base_, data_root, classes,
                                  'annotations/instances_trainval.json',
                                  'annotations/instances_test.json')
