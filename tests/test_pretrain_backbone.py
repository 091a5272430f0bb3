"""The glyph-pretrained backbone (tools/pretrain_backbone.py,
al_plugin.models.pretrain): deterministic, drawn from font files only,
loadable by the digits detectors' ``init_cfg``, cached, and clear about
bad input."""
import dataclasses
import importlib.util
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from al_plugin.models.pretrain import (CHARSET, DEFAULT_CHECKPOINT,
                                       GlyphSynthesizer, PretrainSettings,
                                       cached_checkpoint, ensure_pretrained,
                                       find_font_files, font_dir,
                                       load_checkpoint, render_glyph_bank,
                                       settings_key)

from .conftest import REPO, run_tool

FONTS = ('DejaVuSans.ttf', 'DejaVuSerif-Bold.ttf', 'cmr10.ttf')
#: seconds-long settings: 3 fonts (one held out), small images, 3 steps
TINY = PretrainSettings(
    steps=3, batch_size=8, img_size=32, eval_images=16, fonts=FONTS,
    held_out_fonts=('cmr10.ttf', ), cell=32, render_px=40, warmup_steps=1)
TINY_ARGS = ['--steps', '3', '--batch-size', '8', '--img-size', '32',
             '--eval-images', '16', '--fonts', *FONTS,
             '--held-out-fonts', 'cmr10.ttf']
DIGITS_CONFIGS = ('configs/retinanet_digits.py',
                  'configs/entropy_faster_rcnn_digits.py')


def build(settings, out, **kwargs):
    """``ensure_pretrained`` with its log lines collected; returns them."""
    lines = []
    ensure_pretrained(str(out), settings, log=lines.append, **kwargs)
    return lines


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp('pretrained') / 'tiny.pth'
    build(TINY, out, use_cache=False)
    return out


def test_same_seed_same_weights_other_seed_differs(tiny_checkpoint,
                                                   tmp_path):
    first, meta = load_checkpoint(str(tiny_checkpoint))
    build(TINY, tmp_path / 'again.pth', use_cache=False)
    again, meta_again = load_checkpoint(str(tmp_path / 'again.pth'))
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert meta['accuracy'] == meta_again['accuracy']
    other = dataclasses.replace(TINY, seed=1)
    build(other, tmp_path / 'other.pth', use_cache=False)
    third, _ = load_checkpoint(str(tmp_path / 'other.pth'))
    convs = [k for k in first if k.endswith('conv1.weight')]
    assert not any(torch.equal(first[k], third[k]) for k in convs)
    assert settings_key(other) != settings_key(TINY)


def test_the_callers_thread_count_does_not_change_the_weights(
        tiny_checkpoint, tmp_path):
    """The weights depend on the thread count, so training runs at the
    settings' (``threads``), whatever the caller set, and gives the
    caller's back."""
    first, _ = load_checkpoint(str(tiny_checkpoint))
    before = torch.get_num_threads()
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            out = tmp_path / f'threads{threads}.pth'
            build(TINY, out, use_cache=False)
            assert torch.get_num_threads() == threads
            again, meta = load_checkpoint(str(out))
            assert meta['torch_threads'] == TINY.threads == 2
            assert all(torch.equal(first[k], again[k]) for k in first)
    finally:
        torch.set_num_threads(before)
    assert settings_key(dataclasses.replace(TINY, threads=1)) != \
        settings_key(TINY)


def test_synthesizer_is_a_pure_function_of_the_generator():
    paths = [p for p in find_font_files() if osp.basename(p) in FONTS]
    synth = GlyphSynthesizer(
        render_glyph_bank(paths, cell=32, render_px=40), img_size=32)
    batches = [synth.sample(6, torch.Generator().manual_seed(s))
               for s in (5, 5, 6)]
    images, labels = batches[0]
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert labels.min() >= 0 and labels.max() < len(CHARSET)
    # normalised like the detector's input: 0-255 minus mean over std
    assert torch.isfinite(images).all()
    assert -2.2 < images.min() and images.max() < 2.7
    assert torch.equal(images, batches[1][0])
    assert not torch.equal(images, batches[2][0])


def test_glyphs_come_from_font_files():
    paths = find_font_files()
    assert len(paths) >= 10
    assert all(p.endswith(('.ttf', '.otf')) for p in paths)
    import matplotlib
    assert all(p.startswith(matplotlib.get_data_path()) for p in paths)
    bank = render_glyph_bank(
        [p for p in paths if osp.basename(p) in FONTS[:2]], cell=32,
        render_px=40)
    assert bank.cells.shape == (2, 2, 62, 32, 32)
    assert bank.charset == CHARSET and len(set(CHARSET)) == 62
    assert (bank.cells.reshape(2, 2, 62, -1).max(-1) > 128).all()
    # another font draws other shapes; a thicker stroke has more ink
    assert not np.array_equal(bank.cells[0, 0], bank.cells[1, 0])
    assert (bank.cells[:, 1].astype(int).sum() >
            bank.cells[:, 0].astype(int).sum())


def test_tool_reads_fonts_and_never_the_digits_pool(tmp_path):
    """Run the tool with an audit hook: it opens font files of matplotlib
    and nothing of scikit-learn's data sets."""
    report = tmp_path / 'report.json'
    out = tmp_path / 'ckpt.pth'
    script = (
        'import json, runpy, sys\n'
        'opened = []\n'
        'sys.addaudithook(lambda event, args: opened.append(str(args[0])) '
        'if event == "open" else None)\n'
        f'sys.argv = ["tools/pretrain_backbone.py", "--out", {str(out)!r}, '
        f'"--no-cache", *{TINY_ARGS!r}]\n'
        'runpy.run_path("tools/pretrain_backbone.py", run_name="__main__")\n'
        f'json.dump(dict(opened=opened, modules=sorted(sys.modules)), '
        f'open({str(report)!r}, "w"))\n')
    run_tool([sys.executable, '-c', script])
    seen = json.loads(report.read_text())
    # mmdet's tracking modules import sklearn itself; its data sets
    # (load_digits, the pool's handwriting) are never imported or read
    assert not [m for m in seen['modules']
                if m.startswith('sklearn.datasets')]
    assert not [p for p in seen['opened']
                if 'sklearn/datasets' in p or 'digits_det' in p]
    fonts = [p for p in seen['opened'] if p.endswith(('.ttf', '.otf'))]
    assert {osp.dirname(p) for p in fonts} == {font_dir()}
    _, meta = load_checkpoint(str(out))
    assert set(meta['train_fonts']) | set(meta['held_out_fonts']) == set(
        FONTS) <= {osp.basename(p) for p in fonts}
    assert meta['held_out_fonts'] == ['cmr10.ttf']
    assert meta['classes'] == CHARSET


@pytest.mark.parametrize('config', DIGITS_CONFIGS)
def test_checkpoint_loads_into_the_detector_backbone(config, tiny_checkpoint):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, config))
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=DEFAULT_CHECKPOINT)
    cfg.model.backbone.init_cfg.checkpoint = str(tiny_checkpoint)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state, _ = load_checkpoint(str(tiny_checkpoint))
    loaded = model.backbone.state_dict()
    assert loaded.keys() == state.keys()  # none missing, none unexpected
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    # from scratch stays one option away
    cfg.model.backbone.init_cfg = None
    scratch = MODELS.build(cfg.model)
    scratch.init_weights()
    assert not torch.equal(scratch.backbone.conv1.weight,
                           state['conv1.weight'])


def test_missing_checkpoint_fails_naming_it(tmp_path):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    missing = str(tmp_path / 'nowhere.pth')
    cfg = Config.fromfile(osp.join(REPO, DIGITS_CONFIGS[0]))
    cfg.model.backbone.init_cfg.checkpoint = missing
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        MODELS.build(cfg.model).init_weights()
    with pytest.raises(FileNotFoundError, match='make pretrained'):
        load_checkpoint(missing)


def test_corrupt_or_foreign_checkpoint_fails_naming_it(tmp_path):
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='corrupt.pth is not a readable'):
        load_checkpoint(str(corrupt))
    foreign = tmp_path / 'foreign.pth'
    torch.save(dict(state_dict={'fc.weight': torch.zeros(2, 2)}), foreign)
    with pytest.raises(ValueError, match=r'foreign.pth .*missing keys'):
        load_checkpoint(str(foreign))


def test_cache_builds_once_then_copies(tmp_path, tiny_checkpoint):
    cache = tmp_path / 'cache'
    first = build(TINY, tmp_path / 'a.pth', cache_dir=str(cache))
    cached = cached_checkpoint(TINY, str(cache))
    assert osp.isfile(cached) and any(line.startswith('step 3/3')
                                      for line in first)
    second = build(TINY, tmp_path / 'b.pth', cache_dir=str(cache))
    assert not any(line.startswith('step') for line in second)
    assert any('using the cached' in line for line in second)
    assert ((tmp_path / 'b.pth').read_bytes() ==
            (tmp_path / 'a.pth').read_bytes() ==
            open(cached, 'rb').read())
    record = json.loads((tmp_path / 'b.json').read_text())
    assert record['key'] == settings_key(TINY) and record['cache'] == cached
    assert build(TINY, tmp_path / 'b.pth', cache_dir=str(cache)) == [
        f'{tmp_path / "b.pth"} is up to date (key {settings_key(TINY)})'
    ]
    # a corrupt cache entry is an error naming it, not a silent rebuild
    with open(cached, 'wb') as f:
        f.write(b'truncated')
    with pytest.raises(ValueError, match='--force') as err:
        build(TINY, tmp_path / 'c.pth', cache_dir=str(cache))
    assert cached in str(err.value)
    assert not (tmp_path / 'c.pth').exists()


def _tool():
    spec = importlib.util.spec_from_file_location(
        'pretrain_backbone', osp.join(REPO, 'tools/pretrain_backbone.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('args, message', [
    (['--steps', '0'], 'steps must be > 0'),
    (['--img-size', '16'], 'img_size must be >= 32'),
    (['--threads', '0'], 'threads must be > 0'),
    (['--bogus'], 'unrecognized arguments: --bogus'),
])
def test_bad_option_is_a_usage_error(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        _tool().parse_args(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_font_fails_naming_it(tmp_path):
    with pytest.raises(SystemExit, match="'NoSuchFont.ttf'"):
        _tool().main(['--out', str(tmp_path / 'x.pth'), '--no-cache',
                      '--fonts', 'NoSuchFont.ttf', 'DejaVuSans.ttf'])
    assert not (tmp_path / 'x.pth').exists()
