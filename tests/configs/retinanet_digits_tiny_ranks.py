# The tiny RetinaNet config plus a hook that records what each rank did.
_base_ = './retinanet_digits_tiny.py'

custom_imports = dict(imports=['al_plugin', 'tests.rank_probe'])
custom_hooks = [dict(type='RankProbeHook')]
