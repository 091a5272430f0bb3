"""Drive a running Label Studio as a person would, through its SDK.

Run with the python of Label Studio's own virtual environment (the SDK is
not in the project's ``.venv``; ``tests/test_label_studio.py`` does so).
Each command prints one JSON object:

    token    --url U --email E --password P
        log in (a session, as the browser does) and create the user's
        personal access token: {"token": ...}
    project  --url U --key K --title T --labels L... --images F...
             --backend URL
        a project of rectangle labels, the images uploaded as tasks (as
        the import dialog does), the ML backend connected:
        {"project", "label_config", "tasks": [{"id", "image", "file"}],
        "ml_backend": {"id", "state", "model_version", "error"}}
    predict  --url U --key K --project P
        the Data Manager's "Retrieve Predictions" on every task, then the
        stored predictions: {"predictions": [{"task", "score",
        "model_version", "result"}], "ml_backend": {...}}
    annotate --url U --key K --task T --result JSON
        submit an annotation: {"annotation": id}
"""
import argparse
import json
import os.path as osp
import sys

import requests
from label_studio_sdk import LabelStudio


def token(args) -> dict:
    """Log in with the form and create a personal access token."""
    session = requests.Session()
    login = f'{args.url}/user/login/'
    session.get(login, timeout=30).raise_for_status()
    answer = session.post(
        login, allow_redirects=False, timeout=30,
        headers=dict(Referer=login),
        data=dict(email=args.email, password=args.password,
                  csrfmiddlewaretoken=session.cookies['csrftoken'],
                  persist_session='on'))
    if answer.status_code != 302:
        raise SystemExit(f'login as {args.email} failed: '
                         f'{answer.status_code}')
    answer = session.post(
        f'{args.url}/api/token/', timeout=30, json={},
        headers={'X-CSRFToken': session.cookies['csrftoken'],
                 'Referer': args.url})
    answer.raise_for_status()
    return dict(token=answer.json()['token'])


def access_headers(args) -> dict:
    """An access token for plain HTTP calls, from the personal one."""
    answer = requests.post(f'{args.url}/api/token/refresh/', timeout=30,
                           json=dict(refresh=args.key))
    answer.raise_for_status()
    return dict(Authorization=f'Bearer {answer.json()["access"]}')


def label_config(labels) -> str:
    """Rectangles of the given labels on one image ``$image``."""
    tags = ''.join(f'<Label value="{label}"/>' for label in labels)
    return ('<View><Image name="image" value="$image"/>'
            f'<RectangleLabels name="label" toName="image">{tags}'
            '</RectangleLabels></View>')


def backend_view(backend) -> dict:
    return dict(id=backend.id, state=str(backend.state),
                model_version=backend.model_version,
                error=backend.error_message)


def project(args) -> dict:
    client = LabelStudio(base_url=args.url, api_key=args.key)
    config = label_config(args.labels)
    made = client.projects.create(title=args.title, label_config=config)
    files = [(f'file{i}', (osp.basename(path), open(path, 'rb')))
             for i, path in enumerate(args.images)]
    try:
        answer = requests.post(
            f'{args.url}/api/projects/{made.id}/import', files=files,
            headers=access_headers(args), timeout=120)
    finally:
        for _, (_, f) in files:
            f.close()
    answer.raise_for_status()
    tasks = []
    for task in client.tasks.list(project=made.id):
        image = task.data['image']
        # an upload is stored as <8 hex digits>-<the file's name>
        tasks.append(dict(id=task.id, image=image,
                          file=image.rsplit('/', 1)[-1].split('-', 1)[1]))
    backend = client.ml.create(project=made.id, url=args.backend,
                               title='al_plugin', timeout=300)
    return dict(project=made.id, label_config=config,
                tasks=sorted(tasks, key=lambda t: t['id']),
                ml_backend=backend_view(client.ml.get(backend.id)))


def predict(args) -> dict:
    client = LabelStudio(base_url=args.url, api_key=args.key)
    client.actions.create(id='retrieve_tasks_predictions',
                          project=args.project,
                          selected_items=dict(all=True, excluded=[]))
    predictions = [
        dict(task=p.task, score=p.score, model_version=p.model_version,
             result=p.result)
        for p in client.predictions.list(project=args.project)
    ]
    backends = client.ml.list(project=args.project)
    return dict(predictions=predictions,
                ml_backend=backend_view(backends[0]) if backends else None)


def annotate(args) -> dict:
    client = LabelStudio(base_url=args.url, api_key=args.key)
    made = client.annotations.create(id=args.task,
                                     result=json.loads(args.result))
    return dict(annotation=made.id)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    for name, function in (('token', token), ('project', project),
                           ('predict', predict), ('annotate', annotate)):
        command = commands.add_parser(name)
        command.set_defaults(run=function)
        command.add_argument('--url', required=True)
        if name == 'token':
            command.add_argument('--email', required=True)
            command.add_argument('--password', required=True)
        else:
            command.add_argument('--key', required=True)
    commands.choices['project'].add_argument('--title', required=True)
    commands.choices['project'].add_argument('--labels', nargs='+',
                                             required=True)
    commands.choices['project'].add_argument('--images', nargs='+',
                                             required=True)
    commands.choices['project'].add_argument('--backend', required=True)
    commands.choices['predict'].add_argument('--project', type=int,
                                             required=True)
    commands.choices['annotate'].add_argument('--task', type=int,
                                              required=True)
    commands.choices['annotate'].add_argument('--result', required=True)
    args = parser.parse_args(argv)
    args.url = args.url.rstrip('/')
    json.dump(args.run(args), sys.stdout, default=str)
    print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
