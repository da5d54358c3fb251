"""The access rules of ``api/auth.Principal``, decided from ids alone (no store)."""

from __future__ import annotations

import pytest

from sessionbox.api.auth import Principal
from sessionbox.errors import (
    AgentIdInvalid,
    AgentNotFound,
    Forbidden,
    ModeMismatch,
    ReadOnlyToken,
    SessionNotFound,
)

SAFE = Principal(False, "a", "safe")
BOUND = Principal(False, "a", "safe", session_id="safe_auto_p")
BOUND_RO = Principal(False, "a", "unsafe", session_id="unsafe_auto_p", read_only=True)


def test_agent_wide_data_is_open_to_bound_tokens() -> None:
    """Applets: the panels of a session use their agent's applets, so bound tokens may."""
    BOUND.check_agent("a", write=True)
    BOUND_RO.check_agent("a")
    with pytest.raises(ReadOnlyToken):
        BOUND_RO.check_agent("a", write=True)
    with pytest.raises(AgentNotFound):
        BOUND.check_agent("b")
    with pytest.raises(AgentIdInvalid):
        Principal(admin=True).check_agent("../x")


def test_bound_tokens_cannot_list_or_create_others() -> None:
    with pytest.raises(Forbidden):
        BOUND.check_list_sessions("a", None)
    with pytest.raises(Forbidden):
        BOUND.check_new_session("a")
    BOUND.check_session("a", "safe_auto_p", write=True)
    with pytest.raises(SessionNotFound):
        BOUND.check_session("a", "safe_auto_q")


def test_mode_is_decided_before_the_binding() -> None:
    with pytest.raises(ModeMismatch):
        BOUND.check_session("a", "unsafe_auto_p")
    with pytest.raises(SessionNotFound):  # another agent: 404 first, whatever the mode
        SAFE.check_session("b", "unsafe_auto_p")


def test_listing_filters() -> None:
    assert SAFE.check_list_sessions("a", None) == "safe"
    assert SAFE.check_list_sessions("a", "safe") == "safe"
    with pytest.raises(ModeMismatch):
        SAFE.check_list_sessions("a", "unsafe")
    assert Principal(False, "a", "unsafe").check_list_sessions("a", None) is None
    assert Principal(admin=True).check_list_sessions("z", "unsafe") == "unsafe"


def test_scope_dirs() -> None:
    assert Principal(admin=True).sees_scope_dirs
    assert Principal(False, "a", "unsafe").sees_scope_dirs
    assert not SAFE.sees_scope_dirs
