from __future__ import annotations

from tests.client.conftest import fs, sdk

__all__ = ["fs", "sdk"]
