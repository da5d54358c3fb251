"""Applets (Caco): small HTML/JS/CSS apps an agent saves and every session can load.

An applet lives in the agent's shared ``applets`` volume as ``/<slug>/meta.json``,
``content.html``, ``script.js``, ``style.css`` and ``state.json``. Each save also
writes ``/<slug>/versions/<n>.json`` (the whole content) and keeps the newest
``MAX_VERSIONS``, so a bad save can be undone (Caco's open question 2). The state
has its own ETag so a client can refuse to overwrite a newer state (question 1).
"""

from __future__ import annotations

import builtins
import html as htmllib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sessionbox.config import Settings
from sessionbox.content import Content
from sessionbox.errors import AppletNotFound, InvalidInput, NotFound, SlugInvalid
from sessionbox.ids import validate_agent_id
from sessionbox.paths import ROOT, VPath
from sessionbox.store.base import Store, VolumeReader, VolumeWriter
from sessionbox.types import VolumeKey

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
MAX_VERSIONS = 10
MAX_NAME = 200
MAX_DESCRIPTION = 4000
PARTS = {"html": "content.html", "js": "script.js", "css": "style.css"}


def validate_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        raise SlugInvalid(f"{slug!r} is not a slug: use [a-z0-9][a-z0-9-]{{0,63}}")
    return slug


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def dumps(value: Any) -> bytes:
    """The stable JSON form of every applet file (sorted, indented: readable in git)."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True, slots=True)
class Applet:
    slug: str
    name: str
    description: str
    created_at: str
    updated_at: str
    version: int
    html: str | None = None
    js: str | None = None
    css: str | None = None
    state: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


def _read_json(vol: VolumeReader, path: str) -> Any:
    _, data = vol.read(VPath(path), max_bytes=1 << 62)
    return json.loads(data)


def _meta(vol: VolumeReader, slug: str) -> Applet:
    try:
        meta = _read_json(vol, f"/{slug}/meta.json")
    except NotFound:
        raise AppletNotFound(f"no applet {slug!r}") from None
    return Applet(
        slug=slug,
        name=str(meta.get("name", slug)),
        description=str(meta.get("description", "")),
        created_at=str(meta.get("createdAt", "")),
        updated_at=str(meta.get("updatedAt", "")),
        version=int(meta.get("version", 0)),
    )


def _load(vol: VolumeReader, slug: str) -> Applet:
    meta = _meta(vol, slug)
    parts = {}
    for key, name in PARTS.items():
        try:
            parts[key] = vol.read(VPath(f"/{slug}/{name}"), max_bytes=1 << 62)[1].decode()
        except NotFound:
            parts[key] = ""
    try:
        state = _read_json(vol, f"/{slug}/state.json")
    except NotFound:
        state = {}
    return Applet(
        slug=slug,
        name=meta.name,
        description=meta.description,
        created_at=meta.created_at,
        updated_at=meta.updated_at,
        version=meta.version,
        html=parts["html"],
        js=parts["js"],
        css=parts["css"],
        state=state,
    )


def _write(vol: VolumeWriter, path: str, data: bytes, content_type: str) -> None:
    vol.write(VPath(path), Content.of(data), mode="upsert", content_type=content_type)


def _save(
    vol: VolumeWriter, slug: str, name: str, description: str, html: str, js: str, css: str
) -> tuple[Applet, bool]:
    try:
        old: Applet | None = _meta(vol, slug)
    except AppletNotFound:
        old = None
    now = _now()
    version = (old.version if old else 0) + 1
    created = old.created_at if old else now
    meta = {
        "name": name,
        "description": description,
        "createdAt": created,
        "updatedAt": now,
        "version": version,
    }
    _write(vol, f"/{slug}/meta.json", dumps(meta), "application/json")
    _write(vol, f"/{slug}/content.html", html.encode(), "text/html")
    _write(vol, f"/{slug}/script.js", js.encode(), "text/javascript")
    _write(vol, f"/{slug}/style.css", css.encode(), "text/css")
    if old is None:
        _write(vol, f"/{slug}/state.json", dumps({}), "application/json")
    record = {"version": version, "savedAt": now, "name": name, "description": description}
    record.update(html=html, js=js, css=css)
    _write(vol, f"/{slug}/versions/{version}.json", dumps(record), "application/json")
    for entry in vol.list(VPath(f"/{slug}/versions"), limit=10_000):
        number = entry.name.removesuffix(".json")
        if number.isdigit() and int(number) <= version - MAX_VERSIONS:
            vol.delete(entry.path)
    return _load(vol, slug), old is None


def _check_text(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid UTF-8 text (lone surrogate)") from None


class AppletService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def volume(self, agent_id: str) -> VolumeKey:
        validate_agent_id(agent_id)
        return VolumeKey(agent_id, None, "applets")

    def save(
        self,
        agent_id: str,
        slug: str,
        *,
        name: str,
        html: str,
        description: str | None = None,
        js: str | None = None,
        css: str | None = None,
    ) -> tuple[Applet, bool]:
        """Create or replace an applet's content (its state is kept); returns (applet, created)."""
        validate_slug(slug)
        if not name.strip():
            raise InvalidInput("name must not be empty")
        _check_text("name", name, MAX_NAME)
        _check_text("description", description or "", MAX_DESCRIPTION)
        for key, value in (("html", html), ("js", js or ""), ("css", css or "")):
            _check_text(key, value, self.settings.max_file_bytes)
        return self.store.update(
            self.volume(agent_id),
            lambda vol: _save(vol, slug, name, description or "", html, js or "", css or ""),
        )

    def load(self, agent_id: str, slug: str) -> Applet:
        validate_slug(slug)
        return self.store.view(self.volume(agent_id), lambda vol: _load(vol, slug))

    def list(self, agent_id: str) -> builtins.list[Applet]:
        def run(vol: VolumeReader) -> builtins.list[Applet]:
            found = []
            for entry in vol.list(ROOT, limit=100_000):
                if entry.is_directory and SLUG.fullmatch(entry.name):
                    try:
                        found.append(_meta(vol, entry.name))
                    except AppletNotFound:
                        continue
            return found

        return self.store.view(self.volume(agent_id), run)

    def delete(self, agent_id: str, slug: str) -> None:
        validate_slug(slug)

        def run(vol: VolumeWriter) -> None:
            _meta(vol, slug)
            vol.delete(VPath(f"/{slug}"), recursive=True)

        self.store.update(self.volume(agent_id), run)

    def get_state(self, agent_id: str, slug: str) -> tuple[dict[str, Any], str]:
        """The state object and its ETag."""
        validate_slug(slug)

        def run(vol: VolumeReader) -> tuple[dict[str, Any], str]:
            _meta(vol, slug)
            entry, data = vol.read(VPath(f"/{slug}/state.json"), max_bytes=1 << 62)
            return json.loads(data), entry.etag

        return self.store.view(self.volume(agent_id), run)

    def set_state(
        self,
        agent_id: str,
        slug: str,
        state: dict[str, Any],
        *,
        if_match: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Replace the state; with ``if_match`` a stale ETag is ``PreconditionFailed``."""
        validate_slug(slug)
        if not isinstance(state, dict):
            raise InvalidInput("state must be a JSON object")
        data = dumps(state)

        def run(vol: VolumeWriter) -> str:
            _meta(vol, slug)
            entry, _ = vol.write(
                VPath(f"/{slug}/state.json"),
                Content.of(data),
                mode="upsert",
                if_match=if_match,
                content_type="application/json",
            )
            return entry.etag

        return state, self.store.update(self.volume(agent_id), run)

    def versions(self, agent_id: str, slug: str) -> builtins.list[dict[str, Any]]:
        """The kept versions, newest first: ``{version, savedAt, name}``."""
        validate_slug(slug)

        def run(vol: VolumeReader) -> builtins.list[dict[str, Any]]:
            _meta(vol, slug)
            found = []
            for entry in vol.list(VPath(f"/{slug}/versions"), limit=10_000):
                record = _read_json(vol, entry.path)
                found.append(
                    {k: record.get(k) for k in ("version", "savedAt", "name", "description")}
                )
            return sorted(found, key=lambda r: -int(r["version"] or 0))

        return self.store.view(self.volume(agent_id), run)

    def restore(self, agent_id: str, slug: str, version: int) -> Applet:
        """Save an old version again; it becomes the newest version."""
        validate_slug(slug)

        def run(vol: VolumeWriter) -> Applet:
            _meta(vol, slug)
            try:
                old = _read_json(vol, f"/{slug}/versions/{version}.json")
            except NotFound:
                raise NotFound(f"applet {slug!r} has no version {version}") from None
            return _save(
                vol,
                slug,
                str(old["name"]),
                str(old.get("description", "")),
                str(old.get("html", "")),
                str(old.get("js", "")),
                str(old.get("css", "")),
            )[0]

        return self.store.update(self.volume(agent_id), run)

    def view(self, agent_id: str, slug: str) -> str:
        """The assembled page served under ``Content-Security-Policy: sandbox allow-scripts``."""
        applet = self.load(agent_id, slug)
        css = (applet.css or "").replace("</", "<\\/")
        js = (applet.js or "").replace("</", "<\\/")
        return (
            '<!doctype html>\n<html><head><meta charset="utf-8">'
            f"<title>{htmllib.escape(applet.name)}</title>"
            f"<style>{css}</style></head>\n<body>\n{applet.html}\n<script>{js}</script>\n"
            "</body></html>\n"
        )
