"""Settings, built once at the edge (CLI or app factory) and passed down.

Every field has a name, a default and a help text; ``SESSIONBOX_<NAME>``
environment variables override defaults. Nothing reads the environment at
import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SESSIONBOX_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        Path(".sessionbox"),
        description="Where the embedded database, spool files and unsafe scope dirs live.",
    )
    store: str | None = Field(
        None,
        description="Store URL: sqlite:///path, postgresql://..., or dir:///path. "
        "Default: sqlite:///<data_dir>/sessionbox.db.",
    )
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8787, description="Port `serve` listens on.")
    admin_token: str | None = Field(
        None,
        description="Bearer token with every right. Unset: the server binds to loopback only.",
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        "NORMAL",
        description="SQLite durability. NORMAL (default) survives a process crash, "
        "not a power loss; FULL survives both at ~5x the write cost.",
    )
    max_file_bytes: int = Field(100 * MiB, description="Largest single file.")
    session_quota_bytes: int = Field(
        200 * MiB, description="Bytes one session may hold across its volumes."
    )
    max_entries_per_session: int = Field(
        100_000, description="Files and directories one session volume may hold."
    )
    json_read_limit_bytes: int = Field(
        10 * MiB,
        description="Largest file returned inside a JSON body; larger ones need ?raw=1.",
    )
    list_page_max: int = Field(10_000, description="Largest page a listing returns.")
    pg_pool_max: int = Field(20, description="PostgreSQL connections per process.")
    sse_ping_seconds: int = Field(
        15, description="Keep-alive ping interval of the live change feed (server-sent events)."
    )

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.data_dir / 'sessionbox.db'}"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def scopes_dir(self) -> Path:
        return self.data_dir / "session-scopes"
