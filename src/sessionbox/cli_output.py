"""What the CLI prints for people, with user and code text never read as Rich markup.

Rich reads ``[...]`` in a printed string as a style tag and drops it, so
``pip install 'sessionbox[postgres]'`` once came out as ``pip install 'sessionbox'``,
and a path like ``/runs/[2024]/a.csv`` lost its middle. So nothing here prints a
string as markup: a message is assembled from plain parts, and only an explicit
``(text, style)`` pair carries a style. ``tests/cli/test_cli_output.py`` checks
that the CLI modules print through these helpers only.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

out = Console()
err = Console(stderr=True)

Part = str | tuple[str, str]


def message(*parts: Part) -> Text:
    """Plain parts, and ``(text, style)`` parts for what should stand out; never parsed."""
    return Text.assemble(*parts)


def say(*parts: Part, console: Console | None = None) -> None:
    """Print one message (on ``err`` unless told) without wrapping it at the terminal's
    width, so a long path or URL stays one piece a user can copy."""
    (console or err).print(message(*parts), highlight=False, soft_wrap=True)


def cell(text: str, style: str = "") -> Text:
    """A table cell: Rich parses a plain ``str`` cell as markup too."""
    return Text(text, style=style)
