"""Take the README's screenshots of the web UI: `.venv/bin/python scripts/screenshots.py`.

Starts the real app on loopback over a throw-away SQLite store, seeds a demo
session through the REST API, and drives Debian's Chromium (as tests/web do).
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import LiveServer, small_limits  # noqa: E402
from tests.web._browser import launch  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
MAIN_RS = """use std::io;

/// Reads numbers and prints their sum.
fn main() {
    let mut total = 0i64;
    for line in io::stdin().lines() {
        let line = line.expect("stdin");
        match line.trim().parse::<i64>() {
            Ok(n) => total += n,
            Err(e) => eprintln!("skipping {line:?}: {e}"),
        }
    }
    println!("total = {total}");
}
"""
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAJ0lEQVR42mNgGAWjgP6AEUr/J0EtI7oBjGRY"
    "TrQBjJR6gXHQBuIoAAAa1wQRzRWQZwAAAABJRU5ErkJggg=="
)

OUTPUTS = [
    {
        "data": "$ cargo run < numbers.txt\n   Compiling report v0.1.0\ntotal = 42",
        "metadata": {"type": "terminal", "command": "cargo run < numbers.txt"},
    },
    {
        "data": '{"north": 10, "south": 32, "total": 42}',
        "metadata": {"type": "file", "path": "/out/summary.json", "mimeType": "application/json"},
    },
    {
        "data": base64.b64encode(PNG).decode(),
        "encoding": "base64",
        "metadata": {"type": "image", "mimeType": "image/png"},
    },
]
APPLET_HTML = """<h1>%s</h1><div class=bars><span style="height:30%%">north</span>
<span style="height:90%%">south</span></div>"""
APPLET_CSS = """body{font:14px system-ui;margin:12px}.bars{display:flex;gap:12px;align-items:end;
height:120px}.bars span{background:#3b82f6;color:#fff;width:64px;padding:4px}"""


def seed(base: str) -> None:
    with httpx.Client(base_url=base) as http:
        for sid in ("safe_named_report", "safe_auto_panels~editor", "unsafe_named_scratch"):
            http.post("/v1/agents/demo-agent/sessions", json={"id": sid})
        fs = "/v1/agents/demo-agent/sessions/safe_named_report/fs"
        http.post(f"{fs}/src/main.rs", json={"content": MAIN_RS})
        http.post(
            f"{fs}/src/lib.rs", json={"content": "pub fn add(a: i64, b: i64) -> i64 { a + b }\n"}
        )
        http.post(f"{fs}/README.md", json={"content": "# Report\n\nSums numbers from stdin.\n"})
        http.post(f"{fs}/data/sales.csv", json={"content": "region,amount\nnorth,10\nsouth,32\n"})
        http.put(f"{fs}/data/logo.png", content=PNG, headers={"Content-Type": "image/png"})
        http.put(f"{fs}/data/blob.bin", content=bytes(range(256)) * 8)
        http.put(f"{fs}/README.md", json={"is_readonly": True})
        session = "/v1/agents/demo-agent/sessions/safe_named_report"
        for body in OUTPUTS:
            http.post(f"{session}/outputs", json=body)
        for n, stamp in enumerate((1_764_100_000_000, 1_764_100_060_000), 1):
            snapshot = {"columns": ["region", "amount"], "filter": "amount > 5", "rows": 2 * n}
            if n == 2:
                snapshot["sort"] = {"by": "amount", "desc": True}
            http.put(
                f"{session}/snapshot",
                json={"version": 1, "updatedAt": stamp, "handleKey": None, "snapshot": snapshot},
            )
        applet = "/v1/agents/demo-agent/applets/sales-chart"
        for title in ("Sales", "Sales by region"):
            http.put(
                applet, json={"name": "Sales chart", "html": APPLET_HTML % title, "css": APPLET_CSS}
            )
        http.put(f"{applet}/state", json={"region": "south", "zoom": 2})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(small_limits(Path(tmp))).start()
        try:
            seed(server.url)
            ui = f"{server.url}/ui/agents/demo-agent"
            files = f"{ui}/sessions/safe_named_report/files"
            with sync_playwright() as playwright:
                browser = launch(playwright)
                desk = browser.new_page(viewport={"width": 1200, "height": 720})
                shots = [
                    ("sessions", ui, "table.list"),
                    ("files", files + "/src", "table.files-list"),
                    ("editor", files + "/src/main.rs#L9", ".cm-content"),
                    ("binary", files + "/data/blob.bin", ".hex"),
                ]
                for name, url, ready in shots:
                    desk.goto(url)
                    desk.wait_for_selector(ready)
                    desk.wait_for_timeout(300)
                    desk.screenshot(path=OUT / f"{name}.png")
                session = f"{ui}/sessions/safe_named_report"
                desk.goto(f"{session}/outputs")
                desk.locator("ul.outputs a").first.click()
                desk.wait_for_selector("pre.terminal")
                desk.screenshot(path=OUT / "outputs.png")
                desk.goto(f"{session}/snapshots")
                desk.get_by_role("button", name="Diff").click()
                desk.wait_for_selector(".diff li")
                desk.screenshot(path=OUT / "snapshots.png", full_page=True)
                desk.goto(f"{session}/applets/sales-chart")
                desk.frame_locator("iframe.applet-frame").locator("h1").wait_for()
                desk.get_by_label("Applet state (JSON)").wait_for()
                desk.wait_for_timeout(300)
                desk.screenshot(path=OUT / "applets.png", full_page=True)
                desk.goto(files)
                desk.get_by_label("Search contents").fill("total")
                desk.get_by_role("button", name="Grep").click()
                desk.wait_for_selector(".grep-file")
                desk.screenshot(path=OUT / "grep.png")
                phone = browser.new_page(
                    viewport={"width": 375, "height": 740}, color_scheme="dark", is_mobile=True
                )
                phone.goto(files)
                phone.wait_for_selector("table.files-list")
                phone.wait_for_timeout(300)
                phone.screenshot(path=OUT / "phone-dark.png")
                phone.goto(f"{session}/snapshots")
                phone.wait_for_selector("ul.history")
                phone.wait_for_timeout(300)
                phone.screenshot(path=OUT / "phone-dark-snapshots.png")
                browser.close()
        finally:
            server.stop()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
