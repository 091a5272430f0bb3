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
``Authorization: Bearer <token>``.
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
                        'Bearer <token>" (default: $AL_SERVICE_TOKEN); '
                        'needed when --host is not a loopback address')
    parser.add_argument('--max-body', type=int, default=1 << 20,
                        help='largest request body in bytes (default 1 MiB)')
    args = parser.parse_args(argv)
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
    os.makedirs(args.work_dir, exist_ok=True)
    app = create_app(
        ServiceSettings(
            work_dir=osp.abspath(args.work_dir),
            data_root=osp.abspath(args.data_root),
            config_dir=osp.abspath(args.config_dir),
            token=args.token,
            max_body=args.max_body))
    uvicorn.run(app, host=args.host, port=args.port, log_level='info')


if __name__ == '__main__':
    main()
