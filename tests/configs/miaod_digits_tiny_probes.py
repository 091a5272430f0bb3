# The tiny MI-AOD experiment plus the test-only probes of tests/al_probes.py:
# MI-AOD's selection keeping the pool's scores, a hook that kills the process
# at a chosen point (inactive unless `custom_hooks.1.point` is set) and one
# that records the pool scoring (batches, scores) of each rank.
_base_ = './miaod_digits_tiny.py'

custom_imports = dict(imports=['al_plugin', 'tests.al_probes'])
custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='RecordingUncertaintyStrategy'),
        scorer_cfg=dict(k=100)),
    dict(type='KillProbeHook'),
    dict(type='ScoringProbeHook'),
]
# The probes take any eval-mode forward outside validation for pool
# scoring: no predictions for the drawing of the selected images.
default_hooks = dict(al_visualization=dict(draw=False))
