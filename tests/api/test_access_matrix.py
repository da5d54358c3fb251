"""Issue 4 §4: every cell of token kind x operation x target, over real HTTP, on every store.

Each cell starts from fresh sessions, runs one request with one kind of token and
checks the status and problem ``code`` from the table below; a refused request
must also have changed nothing (checked with the admin token afterwards).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sessionbox.services.tokens import PREFIX, secret_hash
from sessionbox.types import TokenRecord
from tests.api.test_fs_api import problem
from tests.conftest import STORES, LiveServer, http_client, small_limits

ADMIN = "matrix-admin-token"

KINDS = [
    "admin", "safe", "unsafe", "safe_ro", "bound", "other_agent",
    "expired", "revoked", "unknown", "garbage", "none",
]  # fmt: skip
OPS = ["list", "create", "get", "delete", "resolve", "read", "write", "ls"]
TARGETS = ["safe", "unsafe", "other", "other_unsafe", "missing"]

# Outcomes: "200+"/"200-" a listing with/without the target; 4xx with a letter for the code.
CODES = {
    "404s": (404, "session_not_found"),
    "404a": (404, "agent_not_found"),
    "403m": (403, "mode_mismatch"),
    "403r": (403, "read_only"),
    "403f": (403, "forbidden"),
    "401": (401, "unauthorized"),
    "409": (409, "exists"),
}
DENIED = ("401",) * 5
HIDDEN = ("404s",) * 5
# fmt: off
#                         safe    unsafe  other   other_unsafe missing
TABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("admin", "list"):    ("200+", "200+", "200+", "200+", "200-"),
    ("admin", "create"):  ("409",  "409",  "409",  "409",  "201"),
    ("admin", "get"):     ("200",  "200",  "200",  "200",  "404s"),
    ("admin", "delete"):  ("204",  "204",  "204",  "204",  "404s"),
    ("admin", "resolve"): ("200",  "200",  "200",  "200",  "201"),
    ("admin", "read"):    ("200",  "200",  "200",  "200",  "404s"),
    ("admin", "write"):   ("201",  "201",  "201",  "201",  "404s"),
    ("admin", "ls"):      ("200",  "200",  "200",  "200",  "404s"),

    ("safe", "list"):     ("200+", "200-", "404a", "404a", "200-"),
    ("safe", "create"):   ("409",  "403m", "404s", "404s", "201"),
    ("safe", "get"):      ("200",  "403m", "404s", "404s", "404s"),
    ("safe", "delete"):   ("204",  "403m", "404s", "404s", "404s"),
    ("safe", "resolve"):  ("200",  "403m", "404s", "404s", "201"),
    ("safe", "read"):     ("200",  "403m", "404s", "404s", "404s"),
    ("safe", "write"):    ("201",  "403m", "404s", "404s", "404s"),
    ("safe", "ls"):       ("200",  "403m", "404s", "404s", "404s"),

    ("unsafe", "list"):   ("200+", "200+", "404a", "404a", "200-"),
    ("unsafe", "create"): ("409",  "409",  "404s", "404s", "201"),
    ("unsafe", "get"):    ("200",  "200",  "404s", "404s", "404s"),
    ("unsafe", "delete"): ("204",  "204",  "404s", "404s", "404s"),
    ("unsafe", "resolve"): ("200", "200",  "404s", "404s", "201"),
    ("unsafe", "read"):   ("200",  "200",  "404s", "404s", "404s"),
    ("unsafe", "write"):  ("201",  "201",  "404s", "404s", "404s"),
    ("unsafe", "ls"):     ("200",  "200",  "404s", "404s", "404s"),

    ("safe_ro", "list"):  ("200+", "200-", "404a", "404a", "200-"),
    ("safe_ro", "create"): ("403r", "403m", "404s", "404s", "403r"),
    ("safe_ro", "get"):   ("200",  "403m", "404s", "404s", "404s"),
    ("safe_ro", "delete"): ("403r", "403m", "404s", "404s", "403r"),
    ("safe_ro", "resolve"): ("200", "403m", "404s", "404s", "403r"),
    ("safe_ro", "read"):  ("200",  "403m", "404s", "404s", "404s"),
    ("safe_ro", "write"): ("403r", "403m", "404s", "404s", "403r"),
    ("safe_ro", "ls"):    ("200",  "403m", "404s", "404s", "404s"),

    # Bound to a session of its own, so every target here is some other session.
    ("bound", "list"):    ("403f", "403f", "404a", "404a", "403f"),
    ("bound", "create"):  ("404s", "403m", "404s", "404s", "404s"),
    ("bound", "get"):     ("404s", "403m", "404s", "404s", "404s"),
    ("bound", "delete"):  ("404s", "403m", "404s", "404s", "404s"),
    ("bound", "resolve"): ("404s", "403m", "404s", "404s", "404s"),
    ("bound", "read"):    ("404s", "403m", "404s", "404s", "404s"),
    ("bound", "write"):   ("404s", "403m", "404s", "404s", "404s"),
    ("bound", "ls"):      ("404s", "403m", "404s", "404s", "404s"),

    # An unsafe token of a third agent: it sees nothing of A or B.
    ("other_agent", "list"): ("404a",) * 5,
    **{("other_agent", op): HIDDEN for op in OPS if op != "list"},
    **{(kind, op): DENIED for kind in ("expired", "revoked", "unknown", "garbage", "none")
       for op in OPS},
}
# fmt: on


@pytest.fixture(scope="module", params=STORES)
def guarded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    extra: dict[str, object] = {"admin_token": ADMIN}
    if request.param == "postgres":
        extra["store"] = request.getfixturevalue("postgres_url")
    server = LiveServer(small_limits(tmp_path_factory.mktemp("matrix"), **extra)).start()
    yield server
    server.stop()


@pytest.fixture
def admin(guarded: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with http_client(guarded.url, headers=headers, timeout=30) as client:
        yield client


@dataclass
class World:
    a: str
    b: str
    ids: dict[str, tuple[str, str]]  # target -> (agent, session id)


@pytest.fixture
def world(admin: httpx.Client) -> World:
    a, b = f"a-{secrets.token_hex(4)}", f"b-{secrets.token_hex(4)}"
    tag = secrets.token_hex(4)
    ids = {
        "safe": (a, f"safe_named_s{tag}"),
        "unsafe": (a, f"unsafe_named_u{tag}"),
        "other": (b, f"safe_named_o{tag}"),
        "other_unsafe": (b, f"unsafe_named_p{tag}"),
        "missing": (a, f"safe_named_m{tag}"),
    }
    return World(a, b, ids)


def prepare(admin: httpx.Client, agent: str, sid: str) -> None:
    """Only the target session of a cell is created: one cell, one fresh session."""
    assert admin.post(f"/v1/agents/{agent}/sessions", json={"id": sid}).status_code == 201
    put = admin.put(f"/v1/agents/{agent}/sessions/{sid}/fs/f.txt", json={"content": "f"})
    assert put.status_code == 201


def issue(admin: httpx.Client, guarded: LiveServer, kind: str, world: World) -> str | None:
    """A bearer secret of the given kind (None: no Authorization header)."""
    bodies: dict[str, dict[str, object]] = {
        "safe": {"agent_id": world.a, "mode": "safe"},
        "unsafe": {"agent_id": world.a, "mode": "unsafe"},
        "safe_ro": {"agent_id": world.a, "mode": "safe", "read_only": True},
        "bound": {"agent_id": world.a, "mode": "safe", "session_id": "safe_named_own"},
        "other_agent": {"agent_id": f"c-{secrets.token_hex(4)}", "mode": "unsafe"},
        "revoked": {"agent_id": world.a, "mode": "unsafe"},
    }
    if kind == "admin":
        return ADMIN
    if kind == "none":
        return None
    if kind == "garbage":
        return "not a token; DROP TABLE tokens"
    if kind in ("unknown", "expired"):
        secret = PREFIX + secrets.token_urlsafe(32)
        if kind == "expired":
            now = datetime.now(UTC)
            record = TokenRecord(
                id=f"expired-{secrets.token_hex(4)}",
                agent_id=world.a,
                mode="unsafe",
                session_id=None,
                read_only=False,
                created_at=now - timedelta(hours=2),
                expires_at=now - timedelta(seconds=1),
            )
            guarded.app.state.store.create_token(record, secret_hash(secret))
        return secret
    created = admin.post("/v1/tokens", json=bodies[kind])
    assert created.status_code == 201, created.text
    if kind == "revoked":
        assert admin.delete(f"/v1/tokens/{created.json()['id']}").status_code == 204
    token: str = created.json()["token"]
    return token


def call(client: httpx.Client, op: str, agent: str, sid: str) -> httpx.Response:
    base = f"/v1/agents/{agent}/sessions"
    mode = sid.split("_", 1)[0]
    requests = {
        "list": lambda: client.get(base, params={"limit": 1000}),
        "create": lambda: client.post(base, json={"id": sid}),
        "get": lambda: client.get(f"{base}/{sid}"),
        "delete": lambda: client.delete(f"{base}/{sid}"),
        "resolve": lambda: client.post(f"{base}/resolve", json={"mode": mode, "session_id": sid}),
        "read": lambda: client.get(f"{base}/{sid}/fs/f.txt"),
        "write": lambda: client.put(f"{base}/{sid}/fs/g.txt", json={"content": "w"}),
        "ls": lambda: client.get(f"{base}/{sid}/fs"),
    }
    return requests[op]()


def exists(admin: httpx.Client, agent: str, sid: str) -> bool:
    status = admin.get(f"/v1/agents/{agent}/sessions/{sid}").status_code
    assert status in (200, 404)
    return status == 200


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kind", KINDS)
def test_matrix(
    guarded: LiveServer,
    admin: httpx.Client,
    world: World,
    kind: str,
    op: str,
    target: str,
) -> None:
    expected = TABLE[(kind, op)][TARGETS.index(target)]
    agent, sid = world.ids[target]
    existed = target != "missing"
    if existed:
        prepare(admin, agent, sid)
    secret = issue(admin, guarded, kind, world)
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    with http_client(guarded.url, headers=headers, timeout=30) as client:
        response = call(client, op, agent, sid)
    if expected in CODES:
        problem(response, *CODES[expected])
        # Refused: nothing changed.
        assert exists(admin, agent, sid) == existed
        if existed:
            ls = admin.get(f"/v1/agents/{agent}/sessions/{sid}/fs").json()["data"]
            assert [e["name"] for e in ls] == ["f.txt"]
        return
    status = int(expected[:3])
    assert response.status_code == status, response.text
    if op == "list":
        listed = {s["id"] for s in response.json()["data"]}
        assert (sid in listed) == expected.endswith("+")
        if kind.startswith("safe"):
            assert all(s["mode"] == "safe" for s in response.json()["data"])
    elif op == "read":
        assert response.json()["content"] == "f"
    elif op == "ls":
        assert [e["name"] for e in response.json()["data"]] == ["f.txt"]
    elif op == "delete":
        assert not exists(admin, agent, sid)
    elif op in ("create", "resolve"):
        assert exists(admin, agent, sid)
        if op == "resolve":
            assert response.json()["created"] is (status == 201)
    elif op == "write":
        got = admin.get(f"/v1/agents/{agent}/sessions/{sid}/fs/g.txt")
        assert got.json()["content"] == "w"


def test_the_table_covers_every_cell() -> None:
    assert set(TABLE) == {(k, o) for k in KINDS for o in OPS}
    assert all(len(row) == len(TARGETS) for row in TABLE.values())
