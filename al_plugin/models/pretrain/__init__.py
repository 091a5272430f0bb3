"""Backbone pretraining on printed glyphs: the ImageNet analogue of the
digits testbed.

No weights can be downloaded here, so the tiny ResNet-18 of the digits
detectors is pretrained as a 62-way classifier of digits and letters
rendered from the fonts matplotlib ships (a source disjoint from the
detection pool, which is handwriting), and the configs load it with
``init_cfg=dict(type='Pretrained', checkpoint=DEFAULT_CHECKPOINT)``.
``tools/pretrain_backbone.py`` (``make pretrained``) builds it.

Not imported by ``al_plugin`` itself:
``from al_plugin.models.pretrain import ...``.
"""
from .cache import (DEFAULT_CHECKPOINT, cached_checkpoint, ensure_pretrained,
                    record_path, settings_key)
from .checkpoint import load_checkpoint, save_checkpoint
from .glyphs import (CHARSET, GlyphBank, find_font_files, font_dir,
                     render_glyph_bank)
from .synth import GlyphSynthesizer
from .trainer import (BACKBONE, HELD_OUT_FONTS, GlyphClassifier,
                      PretrainSettings, build_backbone, train_backbone)

__all__ = [
    'BACKBONE', 'CHARSET', 'DEFAULT_CHECKPOINT', 'HELD_OUT_FONTS',
    'GlyphBank', 'GlyphClassifier', 'GlyphSynthesizer', 'PretrainSettings',
    'build_backbone', 'cached_checkpoint', 'ensure_pretrained',
    'find_font_files', 'font_dir', 'load_checkpoint', 'record_path',
    'render_glyph_bank', 'save_checkpoint', 'settings_key', 'train_backbone'
]
