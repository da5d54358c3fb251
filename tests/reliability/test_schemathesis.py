"""schemathesis over the whole OpenAPI on a real server, every store: no 5xx, no response
that violates the schema. ``SESSIONBOX_FUZZ_EXAMPLES`` sets examples per operation;
``SESSIONBOX_FUZZ_STATEFUL`` the scenarios of the stateful run (sequences that follow
the OpenAPI links, up to 10 calls each).
"""

from __future__ import annotations

import gzip
import itertools
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from tests.conftest import LiveServer
from tests.reliability.conftest import env_int

EXAMPLES = env_int("SESSIONBOX_FUZZ_EXAMPLES", 30)
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


# The import body (application/gzip): random bytes, gzip of random bytes, or gzip of a
# tar-shaped block, so the fuzzed cases reach the tar and planner layers too.
schemathesis.openapi.media_type(
    "application/gzip",
    st.one_of(
        st.binary(max_size=512),
        st.binary(max_size=2048).map(gzip.compress),
        st.binary(max_size=512).map(lambda b: gzip.compress(b.ljust(1024, b"\0"))),
    ),
)


@pytest.fixture
def real_session(http: httpx.Client, agent: str) -> dict[str, str]:
    """A session that exists, with a few files, so fuzzed requests reach the store."""
    created = http.post(f"/v1/agents/{agent}/sessions", json={})
    session = created.json()["id"]
    base = f"/v1/agents/{agent}/sessions/{session}/fs"
    for path in ("/a.txt", "/dir/b.bin", "/dir/sub/c.md"):
        http.put(f"{base}{path}", content=b"hello\x00" if path.endswith(".bin") else b"hello")
    return {"agent_id": agent, "session_id": session}


def test_api_never_fails_and_matches_its_schema(
    live_server: LiveServer, real_session: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    turn = itertools.count()
    failures: dict[str, str] = {}
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            nonlocal ran
            ran += 1
            # Half the cases aim at a real session, so they get past the 404 into the store.
            params = case.path_parameters or {}
            if next(turn) % 2 and "agent_id" in params:
                params.update({k: v for k, v in real_session.items() if k in params})
            case.call_and_validate(base_url=live_server.url, checks=CHECKS)

        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    print(f"\nschemathesis: {ran} cases over the whole API, failures={len(failures)}")
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


STATEFUL_SCENARIOS = env_int("SESSIONBOX_FUZZ_STATEFUL", 25)


def test_linked_sequences_never_fail_and_match_the_schema(live_server: LiveServer) -> None:
    """schemathesis follows the OpenAPI links: a created session's id into its files,
    outputs and snapshots, a written file's path into reading and deleting it, an
    output's id into fetching it. Same checks as above, plus documented status codes.

    The server keeps its state between scenarios, so the same draw can meet another
    answer (a PUT that created now replaces) and Hypothesis may stop a run with
    ``FlakyStrategyDefinition``; every answer is checked as it comes, so such a stop
    loses no finding, and the run resumes until the scenarios are done.
    """
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    # Valid inputs only: the per-operation run above already sends invalid ones, and a
    # sequence needs its steps to succeed to go deep.
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    seen: dict[int, int] = {}
    failures: list[str] = []
    counts = {"scenarios": 0, "linked": 0, "stopped": 0}

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            counts["scenarios"] += 1

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live_server.url}

        def step(self, input: Any) -> Any:
            counts["linked"] += input.transition is not None
            return super().step(input)

        def after_call(self, response: Any, case: Any) -> None:
            seen[response.status_code] = seen.get(response.status_code, 0) + 1

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(response, checks=[*CHECKS, status_code_conformance])
            except BaseException as exc:
                failures.append(f"{case.method} {case.path}: {str(exc)[:1500]}")
                raise

    for _ in range(5):
        left = STATEFUL_SCENARIOS - counts["scenarios"]
        if left <= 0:
            break
        try:
            Machine.run(
                settings=settings(
                    max_examples=left,
                    stateful_step_count=10,
                    deadline=None,
                    database=None,  # a saved draw replays against another server state
                    suppress_health_check=list(HealthCheck),
                )
            )
        except FlakyStrategyDefinition:
            counts["stopped"] += 1
    calls = sum(seen.values())
    print(
        f"\nschemathesis stateful: {counts['scenarios']} scenarios, {calls} calls "
        f"({counts['linked']} through a link), answers={seen}, "
        f"runs stopped by Hypothesis's flaky-strategy guard={counts['stopped']}"
    )
    assert failures == [], "\n\n".join(failures)
    assert not any(code >= 500 for code in seen), seen
