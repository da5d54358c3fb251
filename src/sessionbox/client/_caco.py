"""Outputs and applets in the in-process library (method names the HTTP SDK mirrors)."""

from __future__ import annotations

import base64
import builtins
from collections.abc import Iterable
from typing import Any

from sessionbox.services.applets import Applet, AppletService
from sessionbox.services.outputs import Output, OutputService, format_marker, strings_in


class Outputs:
    """A session's tool outputs: ``store_output`` returns an id to put in chat as a marker."""

    def __init__(self, service: OutputService, agent_id: str, session_id: str) -> None:
        self._svc = service
        self._a = agent_id
        self._s = session_id

    def store_output(self, data: str | bytes, metadata: dict[str, Any]) -> Output:
        """Store text (``str``) or binary (``bytes``, kept as base64).

        >>> out = session.outputs.store_output("ls -l\\n...", {"type": "terminal"})
        >>> out.marker
        '[output:out_1]'
        """
        if isinstance(data, bytes):
            text, encoding = base64.b64encode(data).decode("ascii"), "base64"
        else:
            text, encoding = data, "text"
        return self._svc.store_output(self._a, self._s, text, encoding=encoding, metadata=metadata)

    def get_output(self, output_id: str) -> Output:
        return self._svc.get_output(self._a, self._s, output_id)

    def list_outputs(self, *, type: str | None = None) -> builtins.list[Output]:
        """Every output's metadata (all pages), in id order."""
        found: list[Output] = []
        cursor = None
        while True:
            page = self._svc.list_outputs(self._a, self._s, type=type, cursor=cursor)
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def delete_output(self, output_id: str) -> None:
        self._svc.delete_output(self._a, self._s, output_id)

    def resolve_markers(self, messages: str | Iterable[Any]) -> tuple[list[Output], list[str]]:
        """(found, missing ids) for every marker in a text or a list of chat messages."""
        texts = [messages] if isinstance(messages, str) else list(strings_in(list(messages)))
        return self._svc.resolve_markers(self._a, self._s, texts)

    @staticmethod
    def format_marker(output_id: str) -> str:
        return format_marker(output_id)


class Applets:
    """An agent's applets, shared by all its sessions."""

    def __init__(self, service: AppletService, agent_id: str) -> None:
        self._svc = service
        self._a = agent_id

    def save(
        self,
        slug: str,
        *,
        name: str,
        html: str,
        description: str | None = None,
        js: str | None = None,
        css: str | None = None,
    ) -> Applet:
        return self._svc.save(
            self._a, slug, name=name, html=html, description=description, js=js, css=css
        )[0]

    def load(self, slug: str) -> Applet:
        return self._svc.load(self._a, slug)

    def list(self) -> builtins.list[Applet]:
        return self._svc.list(self._a)

    def delete(self, slug: str) -> None:
        self._svc.delete(self._a, slug)

    def get_state(self, slug: str) -> tuple[dict[str, Any], str]:
        """The state and its ETag; pass the ETag to ``set_state`` to refuse stale writes."""
        return self._svc.get_state(self._a, slug)

    def set_state(self, slug: str, state: dict[str, Any], *, etag: str | None = None) -> str:
        return self._svc.set_state(self._a, slug, state, if_match=etag)[1]

    def versions(self, slug: str) -> builtins.list[dict[str, Any]]:
        return self._svc.versions(self._a, slug)

    def restore(self, slug: str, version: int) -> Applet:
        return self._svc.restore(self._a, slug, version)
