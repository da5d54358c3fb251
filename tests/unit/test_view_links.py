"""Signed applet view links: bound to agent, slug, expiry and the admin token."""

from __future__ import annotations

import pytest

from sessionbox.api import view_links
from sessionbox.errors import Unauthorized

NOW = 1_800_000_000.0


def test_a_link_verifies_until_it_expires() -> None:
    expires, sig = view_links.sign("admin", "agent", "chart", now=NOW)
    assert expires == int(NOW) + view_links.TTL_SECONDS
    view_links.verify("admin", "agent", "chart", expires, sig, now=NOW)
    view_links.verify("admin", "agent", "chart", expires, sig, now=expires)
    with pytest.raises(Unauthorized, match="expired"):
        view_links.verify("admin", "agent", "chart", expires, sig, now=expires + 1)


@pytest.mark.parametrize(
    ("token", "agent", "slug", "shift", "sig"),
    [
        ("rotated", "agent", "chart", 0, None),
        ("admin", "other", "chart", 0, None),
        ("admin", "agent", "other", 0, None),
        ("admin", "agent", "chart", 3600, None),  # a later expiry is not signed
        ("admin", "agent", "chart", 0, ""),
        ("admin", "agent", "chart", 0, "é"),
    ],
)
def test_anything_else_is_refused(
    token: str, agent: str, slug: str, shift: int, sig: str | None
) -> None:
    expires, good = view_links.sign("admin", "agent", "chart", now=NOW)
    with pytest.raises(Unauthorized, match="not valid"):
        view_links.verify(
            token, agent, slug, expires + shift, good if sig is None else sig, now=NOW
        )
