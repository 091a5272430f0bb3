# SGD for the tiny CPU models: lr 0.01 and grad-norm clipping at 10 make the
# randomly initialised model learn within a few thousand iterations.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=10, norm_type=2))

# lr above is for 8 images in total; `--auto-scale-lr` rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=8)
