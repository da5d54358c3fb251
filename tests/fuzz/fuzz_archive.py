"""atheris target: reading and validating an archive for import (nothing is written).

Half the inputs are raw bytes (gzip or not); the other half are well-formed
``.tar.gz`` files built from fuzzed member names, kinds, modes and contents in
the export layout, so the planner behind the gzip and tar layers is reached.
Properties: the read returns a plan or raises a ``SessionboxError`` (a 4xx),
never anything else; every planned path is a valid path; every session id
parses; a planned file's bytes are within the import's byte cap.

Run: ``python -m tests.fuzz.fuzz_archive -max_total_time=60``
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile

import atheris

with atheris.instrument_imports(
    include=["sessionbox.services.transfer", "sessionbox.services._archive", "sessionbox.paths"]
):
    from sessionbox import ids, paths
    from sessionbox.config import Settings
    from sessionbox.errors import SessionboxError
    from sessionbox.services._archive import read_tar_gz
    from sessionbox.services.transfer import plan_import

SETTINGS = Settings(session_quota_bytes=64 * 1024, max_entries_per_session=64)
CAP = 2 * SETTINGS.session_quota_bytes + 2048 * 4 * SETTINGS.max_entries_per_session
"""The byte cap ``TransferService.read_archive`` puts on the decompressed stream."""

PREFIXES = [
    "sessions/0190a3b4-7c2d-7e3f-8a1b-123456789abc/files/",
    "sessions/safe_named_x/outputs/",
    "sessions/safe_named_x/outputs.json",
    "sessions/unsafe_auto_y/snapshots/",
    "applets/",
    "applets/_index.json",
    "applets/demo/meta.json",
    "",
    "../",
    "/",
]
KINDS = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]


def build(fdp: atheris.FuzzedDataProvider) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _ in range(fdp.ConsumeIntInRange(0, 6)):
            name = fdp.PickValueInList(PREFIXES) + fdp.ConsumeUnicode(40)
            info = tarfile.TarInfo(name)
            info.type = fdp.PickValueInList(KINDS)
            info.mode = fdp.ConsumeIntInRange(0, 0o7777)
            data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
            if fdp.ConsumeBool():
                data = b'{"out_1": {"type": "raw"}, "x": ' + data + b"}"
            if info.type == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.linkname = fdp.ConsumeUnicode(10)
                tar.addfile(info)
    return gzip.compress(raw.getvalue())


def check(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 3)
    try:
        if choice == 0:
            archive = fdp.ConsumeBytes(4096)
        elif choice == 1:
            archive = gzip.compress(fdp.ConsumeBytes(4096))
        else:
            archive = build(fdp)
    except (UnicodeEncodeError, ValueError):
        return  # tarfile cannot write this name: not an input a client could send either
    try:
        plan = plan_import(read_tar_gz(io.BytesIO(archive), max_bytes=CAP, max_ratio=100), SETTINGS)
    except SessionboxError:
        return
    for sid, session in plan.sessions.items():
        assert str(ids.parse_session_id(sid)) == sid
        for files in session.files.values():
            for path, (content, _readonly) in files.items():
                assert paths.validate(path) == path
                assert content is None or len(content) <= CAP
    for path in plan.applets:
        assert paths.validate(path) == path


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
