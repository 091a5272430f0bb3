"""Run the selection service.

    python tools/serve.py --work-dir DIR --data-root DIR \
        [--config-dir configs] [--host 127.0.0.1] [--port 8000] [--token T]

Answers "which images should we label next?" over HTTP (see
:mod:`al_plugin.service.app` for the routes; README "Selection service").
Requests name images and labels under ``--data-root``, configs under
``--config-dir`` and checkpoints under ``--work-dir``; jobs, their
progress, results and exports are kept in ``--work-dir/service/jobs``.

Bound to 127.0.0.1 unless ``--host`` says otherwise; any other address
needs a token (``--token`` or the ``AL_SERVICE_TOKEN`` environment
variable), which every route but ``/health`` then requires as
``Authorization: Bearer <token>`` or as HTTP Basic auth with any user and
the token as password: the only way Label Studio sends it (its *Connect
Model* form: *Basic Authentication*, password the token).

The ``--ls-*`` options make it a Label Studio ML backend at ``/ls``
(:mod:`al_plugin.service.label_studio`; README "Label Studio"): the
config, checkpoint and strategy that pre-annotate and score its tasks, and
how often its new annotations start a train job. Label Studio's address
and API key come from ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``.
"""
import argparse
import ipaddress
import os
import os.path as osp
import sys

# `projects.<Name>` packages are imported relative to the repository root.
REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, REPO)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='The selection service: which images to label next')
    parser.add_argument('--work-dir', required=True,
                        help='jobs, exports and checkpoints (made if missing)')
    parser.add_argument('--data-root', required=True,
                        help='the folder that requests\' images and labels '
                        'are in')
    parser.add_argument('--config-dir', default=osp.join(REPO, 'configs'),
                        help='the folder of the configs requests may name '
                        '(default: the repository\'s configs/)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=8000,
                        help='port (default 8000)')
    parser.add_argument('--token', default=os.environ.get('AL_SERVICE_TOKEN'),
                        help='required from clients as "Authorization: '
                        'Bearer <token>", or as HTTP Basic auth with any '
                        'user and the token as password, as Label Studio '
                        'sends it (default: $AL_SERVICE_TOKEN); needed when '
                        '--host is not a loopback address')
    parser.add_argument('--max-body', type=int, default=1 << 20,
                        help='largest request body in bytes (default 1 MiB)')
    ls = parser.add_argument_group(
        'Label Studio ML backend (/ls; LABEL_STUDIO_URL and '
        'LABEL_STUDIO_API_KEY from the environment)')
    ls.add_argument('--ls-config',
                    help='the config that predicts, under --config-dir')
    ls.add_argument('--ls-checkpoint', default='latest',
                    help='"latest" (default: the newest a train job wrote) '
                    'or a checkpoint under --work-dir, used until a train '
                    'job of the webhook\'s writes one')
    ls.add_argument('--ls-strategy',
                    help='the strategy whose score each prediction carries '
                    '(default: the config\'s)')
    ls.add_argument('--ls-options', default='{}',
                    help='its options, a JSON object')
    ls.add_argument('--ls-score-thr', type=float, default=0.3,
                    help='boxes scoring less are no pre-annotations '
                    '(default 0.3)')
    ls.add_argument('--ls-train-every', type=int, default=0,
                    help='start a train job every N new annotations '
                    '(default 0: never)')
    ls.add_argument('--ls-train-epochs', type=int, default=10,
                    help='epochs of those train jobs (default 10)')
    args = parser.parse_args(argv)
    check_label_studio(parser, args)
    for what, path in (('--data-root', args.data_root),
                       ('--config-dir', args.config_dir)):
        if not osp.isdir(path):
            parser.error(f'{what} {path} is not a folder')
    if not is_loopback(args.host) and not args.token:
        parser.error(f'--host {args.host} is not a loopback address: give '
                     'a --token (or set AL_SERVICE_TOKEN)')
    if not 0 < args.port < 65536:
        parser.error(f'--port must be in 1..65535, got {args.port}')
    return args


def check_label_studio(parser, args) -> None:
    """The ``--ls-*`` options, checked; ``args.ls_options`` parsed."""
    import json
    try:
        args.ls_options = json.loads(args.ls_options)
    except ValueError as e:
        parser.error(f'--ls-options is not JSON: {e}')
    if not isinstance(args.ls_options, dict):
        parser.error('--ls-options must be a JSON object')
    if args.ls_config is not None and not osp.isfile(
            osp.join(args.config_dir, args.ls_config)):
        parser.error(f'--ls-config {args.ls_config} is no file of '
                     f'--config-dir {args.config_dir}')
    if not 0 <= args.ls_score_thr <= 1:
        parser.error('--ls-score-thr must be in [0, 1]')
    if args.ls_train_every < 0 or args.ls_train_epochs < 1:
        parser.error('--ls-train-every must be >= 0 and --ls-train-epochs '
                     '>= 1')
    if args.ls_strategy is None:
        if args.ls_options:
            parser.error('--ls-options need an --ls-strategy')
        return
    from al_plugin.strategies import check_strategy_cfg
    try:
        check_strategy_cfg(dict(args.ls_options, type=args.ls_strategy),
                           '--ls-strategy')
    except (KeyError, TypeError) as e:
        parser.error(str(e.args[0]))


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv=None):
    args = parse_args(argv)
    import uvicorn

    from al_plugin.service import ServiceSettings, create_app
    from al_plugin.service.label_studio import LabelStudioSettings
    os.makedirs(args.work_dir, exist_ok=True)
    app = create_app(
        ServiceSettings(
            work_dir=osp.abspath(args.work_dir),
            data_root=osp.abspath(args.data_root),
            config_dir=osp.abspath(args.config_dir),
            token=args.token,
            max_body=args.max_body,
            label_studio=LabelStudioSettings(
                config=args.ls_config,
                checkpoint=args.ls_checkpoint,
                strategy=args.ls_strategy,
                options=args.ls_options,
                score_thr=args.ls_score_thr,
                train_every=args.ls_train_every,
                train_epochs=args.ls_train_epochs,
                url=os.environ.get('LABEL_STUDIO_URL') or None,
                api_key=os.environ.get('LABEL_STUDIO_API_KEY') or None)))
    uvicorn.run(app, host=args.host, port=args.port, log_level='info')


if __name__ == '__main__':
    main()
