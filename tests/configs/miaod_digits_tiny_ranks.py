# The tiny MI-AOD experiment plus a hook that records what each rank did.
_base_ = './miaod_digits_tiny.py'

custom_imports = dict(imports=['al_plugin', 'tests.rank_probe'])
custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(type='InstanceUncertaintyStrategy'),
        scorer_cfg=dict(k=100)),
    dict(type='RankProbeHook')
]
