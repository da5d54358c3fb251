"""Short-lived signed URLs for an applet's ``/view``.

An ``<iframe src>`` cannot send an ``Authorization`` header, and a bearer token in a
URL would leak into logs and history. So a caller who may read an agent's applets asks
for a link (``POST .../applets/{slug}/view-link``); it carries an expiry and an HMAC over
(agent, slug, expiry) and grants only that one page until it expires. The key is derived
from the admin token, so every replica sharing the admin token accepts the same links and
changing the admin token voids them all. With no admin token the server is open and the
plain ``/view`` URL is returned.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from sessionbox.errors import Unauthorized

TTL_SECONDS = 120
_CONTEXT = b"sessionbox applet view link v1"


def _key(admin_token: str) -> bytes:
    return hmac.new(admin_token.encode(), _CONTEXT, hashlib.sha256).digest()


def _mac(admin_token: str, agent_id: str, slug: str, expires: int) -> str:
    message = f"{agent_id}\n{slug}\n{expires}".encode()
    return hmac.new(_key(admin_token), message, hashlib.sha256).hexdigest()


def sign(
    admin_token: str, agent_id: str, slug: str, *, now: float | None = None
) -> tuple[int, str]:
    """The expiry (Unix seconds) and signature for one applet's view."""
    expires = int(now if now is not None else time.time()) + TTL_SECONDS
    return expires, _mac(admin_token, agent_id, slug, expires)


def verify(
    admin_token: str, agent_id: str, slug: str, expires: int, sig: str, *, now: float | None = None
) -> None:
    """Raise ``Unauthorized`` unless ``sig`` signs this view and has not expired."""
    expected = _mac(admin_token, agent_id, slug, expires)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise Unauthorized("the view link is not valid")
    if (now if now is not None else time.time()) > expires:
        raise Unauthorized("the view link has expired; open the applet again")
