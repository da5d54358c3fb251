"""atheris target: agent and session id parsing.

Properties: parsing returns a value or raises the module's own error, never
anything else; a parsed session id prints back to its input (UUIDs in lower
case) and parses again to the same value; an accepted agent id is unchanged.

Run: ``python -m tests.fuzz.fuzz_ids -max_total_time=60``
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports(include=["sessionbox.paths", "sessionbox.ids"]):
    from sessionbox import ids
    from sessionbox.errors import AgentIdInvalid, SessionIdInvalid


def check(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    text = fdp.ConsumeUnicode(260)
    if fdp.ConsumeBool():
        text = fdp.PickValueInList(["safe_auto_", "unsafe_named_", "safe_named_"]) + text
    try:
        sid = ids.parse_session_id(text)
    except SessionIdInvalid:
        pass
    else:
        assert str(sid) == (text.lower() if sid.type == "uuid" else text), text
        assert ids.parse_session_id(str(sid)) == sid
        assert sid.partition == f"persist:{sid}"
    with contextlib.suppress(AgentIdInvalid):
        assert ids.validate_agent_id(text) == text


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
