"""The fs state machine of ``tests/store/test_stateful.py``, driven over real HTTP, every store.

Same rules, same model; the only change is the transport: the machine drives the
HTTP SDK (``sessionbox.Client``) against a live server, so every operation is a
request and every error comes back as problem+json, mapped to its class by
``code``. The API layer (routing, bodies, error mapping) and the SDK are held to
the model too, not only the store.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

import sessionbox
from tests.conftest import LiveServer
from tests.reliability.conftest import env_int
from tests.store.test_stateful import machine_for


def test_http_fs_matches_the_model(live_server: LiveServer, agent: str) -> None:
    with sessionbox.Client(live_server.url) as client:
        run_state_machine_as_test(
            machine_for(client, agent),  # type: ignore[arg-type]
            settings=settings(
                max_examples=env_int("SESSIONBOX_STATEFUL_EXAMPLES", 6),
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
