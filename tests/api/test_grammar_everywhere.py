"""Issue 4 §1: nothing failing the id grammar is accepted anywhere.

Random text that is not a session id is refused by every entry point that takes
one: the library, the services, the auth checks, tokens, links and the API.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sessionbox
from sessionbox.api.auth import Principal
from sessionbox.errors import SessionIdInvalid
from sessionbox.ids import parse_session_id
from sessionbox.links import build_child_link
from sessionbox.services.tokens import TokenService

FIXTURES = [HealthCheck.function_scoped_fixture]
# Near misses are more telling than noise: grammar pieces glued to odd characters.
NEAR = st.builds(
    lambda a, b, c: a + b + c,
    st.sampled_from(["safe_auto_", "unsafe_named_", "Safe_auto_", "safe_uuid_", "", "safe_"]),
    st.text(alphabet="a~._-/ %\x00\n\\é", max_size=8),
    st.sampled_from(["", "x", " ", "/x", "\n", "~" * 201]),
)
NOT_AN_ID = (st.text(max_size=40) | NEAR).filter(lambda t: not _valid(t))


def _valid(text: str) -> bool:
    try:
        parse_session_id(text)
    except SessionIdInvalid:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(NOT_AN_ID)
def test_library_and_services_refuse(box: sessionbox.Sessionbox, agent: str, text: str) -> None:
    calls = [
        lambda: box.create_session(agent, text),
        lambda: box.get_session(agent, text),
        lambda: box.delete_session(agent, text),
        lambda: box.session(agent, text).files.list(),
        lambda: box.session(agent, text).files.write("/a", "x"),
        lambda: box.resolve_session(agent, "safe", session_id=text),
        lambda: box.resolve_session(agent, "safe", parent_session=text, name="n"),
        lambda: TokenService(box.store).create(agent, "unsafe", session_id=text),
        lambda: Principal(admin=True).check_session(agent, text),
        lambda: Principal(False, agent, "unsafe").check_session(agent, text),
        lambda: build_child_link("panels/x", text),
    ]
    for call in calls:
        with pytest.raises(SessionIdInvalid):
            call()
    assert box.list_sessions(agent) == []


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(NOT_AN_ID)
def test_api_refuses(http: httpx.Client, agent: str, text: str) -> None:
    base = f"/v1/agents/{agent}/sessions"
    for response in (
        http.post(base, json={"id": text}),
        http.post(f"{base}/resolve", json={"mode": "safe", "session_id": text}),
        http.post(f"{base}/resolve", json={"mode": "safe", "parent_session": text}),
        http.post("/v1/tokens", json={"agent_id": agent, "mode": "unsafe", "session_id": text}),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "session_id_invalid"
    assert http.get(base).json()["data"] == []
