"""Pretrain the tiny ResNet-18 of the digits detectors on printed glyphs.

The analogue of ImageNet pretraining for the built-in digits set: the
backbone of ``configs/_base_/models/retinanet_tiny.py`` is trained as a
62-way classifier of digits and letters rendered from the fonts matplotlib
ships (never from the handwritten pool), then written where the digits
configs load it from. Built once per machine into the cache outside the
clone, ``${AL_PLUGIN_CACHE:-${XDG_CACHE_HOME:-~/.cache}/al_plugin}`` /
``pretrained``, keyed by the settings and the code, then copied; seconds
when up to date.

Examples:
    python tools/pretrain_backbone.py                 # make pretrained
    python tools/pretrain_backbone.py --steps 200 --out /tmp/quick.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from al_plugin.models.pretrain import (  # noqa: E402
    DEFAULT_CHECKPOINT, PretrainSettings, ensure_pretrained)

DEFAULTS = PretrainSettings()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pretrain the tiny digits backbone on printed glyphs.')
    parser.add_argument(
        '--out', default=DEFAULT_CHECKPOINT,
        help=f'checkpoint to write (default: {DEFAULT_CHECKPOINT}, what the '
        'digits configs load)')
    parser.add_argument('--steps', type=int, default=DEFAULTS.steps)
    parser.add_argument(
        '--batch-size', type=int, default=DEFAULTS.batch_size)
    parser.add_argument(
        '--img-size', type=int, default=DEFAULTS.img_size,
        help='side of the glyph images in pixels')
    parser.add_argument(
        '--lr', type=float, default=DEFAULTS.lr,
        help='peak learning rate (warm-up, then cosine decay)')
    parser.add_argument('--seed', type=int, default=DEFAULTS.seed)
    parser.add_argument(
        '--fonts', nargs='+', default=None,
        help='font file names in matplotlib\'s font folder (default: all '
        'that draw the 62 characters)')
    parser.add_argument(
        '--held-out-fonts', nargs='*', default=list(DEFAULTS.held_out_fonts),
        help='fonts kept out of training, for the held-out accuracy')
    parser.add_argument(
        '--eval-images', type=int, default=DEFAULTS.eval_images,
        help='images drawn for each accuracy')
    parser.add_argument(
        '--threads', type=int, default=DEFAULTS.threads,
        help='torch CPU threads of the training; a setting like the others: '
        'the weights depend on the thread count, so the default is the '
        'same on every machine')
    parser.add_argument(
        '--cache-dir', default=None,
        help='cache folder (default: $AL_PLUGIN_CACHE, else '
        '${XDG_CACHE_HOME:-~/.cache}/al_plugin)')
    parser.add_argument(
        '--no-cache', action='store_true',
        help='train straight into --out, without the cache')
    parser.add_argument(
        '--force', action='store_true',
        help='train even when an up-to-date or cached file exists')
    args = parser.parse_args(argv)
    args.settings = PretrainSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        img_size=args.img_size,
        lr=args.lr,
        seed=args.seed,
        fonts=None if args.fonts is None else tuple(args.fonts),
        held_out_fonts=tuple(args.held_out_fonts),
        eval_images=args.eval_images,
        threads=args.threads)
    try:
        args.settings.check()
    except ValueError as e:
        parser.error(str(e))
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        record = ensure_pretrained(
            args.out, args.settings, cache_dir=args.cache_dir,
            use_cache=not args.no_cache, force=args.force)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'pretrain_backbone.py: error: {e}')
    accuracy = ', '.join(
        f'{fonts} {acc["acc"]:.3f} (digits {acc["digit_acc"]:.3f})'
        for fonts, acc in record['accuracy'].items())
    print(f'pretrained backbone: {record["checkpoint"]}\n'
          f'  cache: {record["cache"]}\n'
          f'  accuracy (augmented glyphs, 62 classes): {accuracy}\n'
          f'  built in {record["seconds"]["total"]:.0f} s '
          f'({record["torch_threads"]} threads)')


if __name__ == '__main__':
    main()
