# MI-AOD (the paper's RetinaNet R-50 and schedule, configs/miaod_voc0712.py)
# on your own VOC tree: copy this file and set data_root and classes.
#   data/my_voc/VOC2007/{Annotations,JPEGImages,ImageSets/Main/trainval.txt
#                        ImageSets/Main/test.txt}
#   data/my_voc/VOC2012/{Annotations,JPEGImages,ImageSets/Main/trainval.txt}
# The pool is VOC2007 + VOC2012 trainval, the test split VOC2007 test (one
# folder only: user_voc_data(..., train_sets=('VOC2007', ))). README, "Your
# own data".
_base_ = './miaod_voc0712.py'
from al_plugin.datasets import user_voc_data  # noqa: E402

data_root = 'data/my_voc/'
classes = ('cat', 'dog', 'bird')  # the <name> of the objects; C = 1: ('cat',)
model = dict(bbox_head=dict(num_classes=len(classes)))
(train_dataloader, val_dataloader, test_dataloader, val_evaluator,
 test_evaluator) = user_voc_data(_base_, data_root, classes)
