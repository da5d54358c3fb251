"""``natstack-child://`` links: how a panel hands its session to a child (NatStack).

    >>> build_child_link("panels/editor", "safe_named_shared")
    'natstack-child:///panels/editor?session=safe_named_shared'

Both directions validate with the grammar in ``ids``: a link that carries a
malformed panel path (``PanelPathInvalid``) or session id (``SessionIdInvalid``)
is refused, never passed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from sessionbox.errors import InvalidInput
from sessionbox.ids import parse_session_id, validate_panel_path

SCHEME = "natstack-child"


@dataclass(frozen=True, slots=True)
class ChildLink:
    """A parsed link: the child's panel path and the session it should share, if any."""

    source: str
    session_id: str | None = None


def build_child_link(source: str, session_id: str | None = None) -> str:
    """The link that opens panel ``source`` (``panels/editor``), sharing ``session_id``."""
    link = f"{SCHEME}:///{validate_panel_path(source)}"
    if session_id is not None:
        link += "?session=" + quote(str(parse_session_id(session_id)), safe="")
    return link


def parse_child_link(url: str) -> ChildLink:
    """The inverse of :func:`build_child_link`; ``InvalidInput`` for anything else."""
    if not isinstance(url, str):
        raise InvalidInput("a child link must be a string")
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise InvalidInput(f"not a {SCHEME}:// link: {url!r}") from None
    if parts.scheme != SCHEME or parts.netloc or not parts.path.startswith("/") or parts.fragment:
        raise InvalidInput(f"not a {SCHEME}:/// link: {url!r}")
    if set(query) - {"session"} or len(query.get("session", ())) > 1:
        raise InvalidInput(f"a child link takes one 'session' parameter and nothing else: {url!r}")
    sessions = query.get("session")
    session_id = str(parse_session_id(sessions[0])) if sessions else None
    return ChildLink(validate_panel_path(parts.path[1:]), session_id)
