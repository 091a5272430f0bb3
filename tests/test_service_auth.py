"""The service's token, given as Label Studio gives it: HTTP Basic auth
with any user and the token as password (Label Studio's model connection
form has no bearer token); ``Authorization: Bearer`` still works."""
import base64

from fastapi.testclient import TestClient

from al_plugin.service.app import ServiceSettings, basic_password, create_app

TOKEN = 's3cret-token'


def basic(user: str, password: str) -> dict:
    pair = base64.b64encode(f'{user}:{password}'.encode()).decode()
    return dict(Authorization=f'Basic {pair}')


def test_basic_auth_with_the_token_as_password(tmp_path):
    (tmp_path / 'data').mkdir()
    app = create_app(ServiceSettings(
        work_dir=str(tmp_path / 'work'), data_root=str(tmp_path / 'data'),
        config_dir=str(tmp_path / 'data'), token=TOKEN))
    with TestClient(app) as client:
        def status(headers):
            return client.get('/strategies', headers=headers).status_code

        assert status(basic('label-studio', TOKEN)) == 200
        assert status(basic('anyone', TOKEN)) == 200
        assert status(dict(Authorization=f'Bearer {TOKEN}')) == 200
        assert status(basic('label-studio', TOKEN + 'x')) == 401
        assert status(basic(TOKEN, 'wrong')) == 401  # the user is no token
        assert status(dict(Authorization=f'Bearer {TOKEN}x')) == 401
        assert status(dict(Authorization=f'Basic {TOKEN}')) == 401
        assert status({}) == 401
        answer = client.get('/ls/health', headers=basic('ls', 'wrong'))
        assert answer.status_code == 401
        assert 'Basic' in answer.json()['detail']
        assert client.get('/ls/health',
                          headers=basic('ls', TOKEN)).status_code == 200


def test_basic_password_reads_only_basic_headers():
    assert basic_password(basic('u', 'p:q')['Authorization']) == 'p:q'
    assert basic_password('basic ' + base64.b64encode(b'u:').decode()) == ''
    assert basic_password(f'Bearer {TOKEN}') == ''
    assert basic_password('Basic not*base64') == ''
    assert basic_password('Basic ' + base64.b64encode(b'\xff:x').decode()
                          ) == ''
    assert basic_password('') == ''
