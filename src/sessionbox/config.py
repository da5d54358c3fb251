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
    workers: int = Field(
        1,
        ge=1,
        description="Server processes `serve` runs on the one store (see "
        "docs/decisions/2026-12-05-server-workers.md for why 1 is the default).",
    )
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
        100_000, description="Files and directories one session may hold across its volumes."
    )
    json_read_limit_bytes: int = Field(
        10 * MiB,
        description="Largest file returned inside a JSON body; larger ones need ?raw=1.",
    )
    snapshot_max_bytes: int = Field(
        10 * 1000 * 1000, description="Largest session snapshot envelope (413 beyond)."
    )
    snapshot_history: int = Field(
        3, ge=0, description="Older snapshots kept per session besides the latest."
    )
    list_page_max: int = Field(10_000, description="Largest page a listing returns.")
    pg_pool_max: int = Field(20, description="PostgreSQL connections per process.")
    output_cache_bytes: int = Field(
        32 * MiB, description="Memory the server's hot-output read cache may hold (0: off)."
    )
    retention_interval_seconds: int = Field(
        3600, description="How often the server prunes and collects garbage (0: never)."
    )
    retention_outputs_older_than: str | None = Field(
        "30d",
        description="Scheduled prune: delete outputs older than this (e.g. 30d; unset: keep).",
    )
    retention_sessions_idle_for: str | None = Field(
        None, description="Scheduled prune: delete sessions idle this long (e.g. 90d; unset: keep)."
    )
    gc_grace_seconds: int = Field(
        3600, description="An unreferenced blob is removed only this long after GC first saw it."
    )
    import_max_ratio: int = Field(
        200, description="Import refuses archives that inflate more than this many times."
    )
    sse_ping_seconds: int = Field(
        15, description="Keep-alive ping interval of the live change feed (server-sent events)."
    )
    metrics: bool = Field(
        False,
        description="Serve Prometheus metrics at /metrics (guarded like /v1: open only on an "
        "open loopback server, else the admin token).",
    )
    access_log: bool = Field(
        False, description="Write one JSON line per request to the sessionbox.access logger."
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
