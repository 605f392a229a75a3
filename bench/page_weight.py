"""Page weight: bytes transferred by Chromium for the pages of issue 13, from gunicorn in
production mode on the demo data (the courses in courses/, the demo accounts).

For each page, a cold load (the browser's cache emptied first) and a repeat visit, counted
as the network reports them: compressed bodies and headers, fonts and images included.
Writes bench/results/page_weight.md (and prints it); fails when a page is over its budget.

    python bench/page_weight.py            # or: make page-weight
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
OPERATOR = ("operatore@demo.lgnetforma.it", "giulia impara ogni giorno")
COORDINATOR = ("coordinatore@demo.lgnetforma.it", "anna coordina il lazio")
# Budgets of issue 13 (bytes): first load, repeat visit.
BUDGETS = {"home": (300_000, 25_000), "module": (350_000, 25_000)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "LGNETFORMA_ENV": "production",
        "SECRET_KEY": "page-weight-only-secret-key-0123456789",
        "DATABASE_URL": f"sqlite:///{database}",
        "LGNETFORMA_ALLOW_SQLITE": "1",
        "LGNETFORMA_RATELIMIT": "0",
        "PUBLIC_BASE_URL": f"http://localhost:{port}",
    }


def prepare(env: dict[str, str]) -> None:
    for command in (
        ["db", "upgrade"],
        ["comuni", "import"],
        ["courses", "import"],
        ["demo", "create"],
    ):
        subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "-m", "lgnetforma", *command],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def start(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "lgnetforma:create_app()",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


class Meter:
    """Sums the bytes Chromium's network stack received (encodedDataLength: headers and
    compressed body) for one page load."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.bytes = 0
        self.requests = 0
        self.cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event: dict) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))
        self.requests += 1

    def load(self, url: str, *, cold: bool) -> tuple[int, int]:
        if cold:
            self.cdp.send("Network.clearBrowserCache")
        self.bytes = self.requests = 0
        self.page.goto(url, wait_until="networkidle")
        return self.bytes, self.requests


def login(page, base: str, who: tuple[str, str]) -> None:  # noqa: ANN001
    page.goto(f"{base}/accesso")
    page.get_by_label("Email").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Accedi").last.click()
    page.wait_for_url(f"{base}/")


def measure(base: str) -> list[tuple[str, str, int, int, int]]:
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        meter = Meter(page)
        for name, path in (("home", "/"), ("catalogue", "/corsi")):
            first, count = meter.load(base + path, cold=True)
            again, _ = meter.load(base + path, cold=False)
            rows.append((name, path, first, count, again))
        login(page, base, OPERATOR)
        page.goto(f"{base}/corsi")
        course_path = page.locator("main h2 a, main h3 a").first.get_attribute("href")
        page.goto(base + course_path)
        page.get_by_role("button", name="Iscriviti al corso").click()
        module_path = page.locator("main ol a[href^='/corsi/']").first.get_attribute("href")
        for name, path in (
            ("home (operator)", "/"),
            ("course", course_path),
            ("module", module_path),
            ("my courses", "/i-miei-corsi"),
        ):
            first, count = meter.load(base + path, cold=True)
            again, _ = meter.load(base + path, cold=False)
            rows.append((name, path, first, count, again))
        browser.close()
    return rows


def report(rows: list[tuple[str, str, int, int, int]]) -> tuple[str, list[str]]:
    lines = [
        "| Page | Path | First load (KB) | Requests | Repeat visit (KB) |",
        "|---|---|---:|---:|---:|",
    ]
    over = []
    for name, path, first, count, again in rows:
        lines.append(f"| {name} | `{path}` | {first / 1000:.1f} | {count} | {again / 1000:.1f} |")
        budget = BUDGETS.get(name)
        if budget and (first > budget[0] or again > budget[1]):
            over.append(f"{name}: {first} / {again} bytes, budget {budget[0]} / {budget[1]}")
    return "\n".join(lines) + "\n", over


def main() -> int:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = production_env(Path(tmp) / "weight.sqlite", port)
        prepare(env)
        server = start(env, port)
        try:
            rows = measure(f"http://localhost:{port}")
        finally:
            os.killpg(server.pid, 15)
            server.wait(10)
    table, over = report(rows)
    chromium = subprocess.run(  # noqa: S603
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    chromium = re.sub(r"\s+", " ", chromium)
    out = ROOT / "bench" / "results" / "page_weight.md"
    out.write_text(
        "# Page weight (bench/page_weight.py)\n\n"
        f"gunicorn in production mode, demo data, {chromium} at 390 px; "
        "bytes received (headers and compressed bodies, fonts included), 1 KB = 1000 bytes. "
        "Budgets (issue 13): home ≤ 300 KB and module ≤ 350 KB on first load, "
        "≤ 25 KB on a repeat visit.\n\n" + table,
        encoding="utf-8",
    )
    print(table)
    for line in over:
        print("OVER BUDGET:", line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
