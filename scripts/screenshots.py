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
                browser.close()
        finally:
            server.stop()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
