"""What guards the service's routes besides the path checks
(:mod:`.paths`): a body size limit and HTTP Basic auth's password."""
import base64

from fastapi.responses import JSONResponse


class BodyLimit:
    """ASGI middleware: a request body over ``max_body`` bytes gets 413
    before any route reads it (with or without ``Content-Length``)."""

    def __init__(self, app, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)
        body, more = b'', True
        while more:
            message = await receive()
            if message['type'] != 'http.request':
                break
            body += message.get('body', b'')
            more = message.get('more_body', False)
            if len(body) > self.max_body:
                response = JSONResponse(
                    dict(detail=f'the request body is over '
                         f'{self.max_body} bytes'), status_code=413)
                return await response(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return dict(type='http.request', body=body, more_body=False)
            return await receive()

        return await self.app(scope, replay, send)


def basic_password(header: str) -> str:
    """The password of an ``Authorization: Basic base64(user:password)``
    header (Label Studio authenticates to an ML backend only this way);
    ``''`` for any other header, bad base64 or non-UTF-8 bytes."""
    scheme, _, value = header.partition(' ')
    if scheme.lower() != 'basic':
        return ''
    try:
        plain = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are ones
        return ''
    _, colon, password = plain.partition(':')
    return password if colon else ''
