from __future__ import annotations

import sessionbox
from sessionbox.errors import ERRORS_BY_CODE


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(sessionbox) if not name.startswith("_")} - {
        "annotations",
        "api",
        "client",
        "config",
        "content",
        "errors",
        "ids",
        "links",
        "paths",
        "ranges",
        "services",
        "store",
        "types",
        "cli",
        "web",
        "cli_fs",
        "cli_integrations",
        "cli_progress",
        "cli_output",
        "integrations",
        "bench",
    }
    assert set(sessionbox.__all__) - {"__version__"} == public


def test_every_error_class_is_exported_and_codes_are_unique() -> None:
    names = [cls.__name__ for cls in ERRORS_BY_CODE.values()]
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(sessionbox, name).__name__ == name
