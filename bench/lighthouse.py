"""Lighthouse (npm lighthouse, pinned in package.json) on the pages of issue 13, mobile
profile, against the app under gunicorn in production mode on the demo data, in Debian's
Chromium (CHROME_PATH). Writes bench/results/lighthouse.md.

    make lighthouse        # or: python bench/lighthouse.py [--pages home,module]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_weight import (  # noqa: E402
    ARGS,
    CHROMIUM,
    COORDINATOR,
    OPERATOR,
    ROOT,
    free_port,
    login,
    prepare,
    production_env,
    start,
)

LIGHTHOUSE = os.environ.get("LIGHTHOUSE", str(ROOT / "node_modules" / ".bin" / "lighthouse"))
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 90, "accessibility": 100, "best-practices": 100, "seo": 95}


def session_cookies(base: str) -> tuple[dict[str, str], str]:
    """Paths of the pages to audit and the session cookies of the demo operator and
    coordinator, read from a real login in Chromium (the operator enrols in a course)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        cookies = {}
        paths = {}
        for who in (OPERATOR, COORDINATOR):
            context = browser.new_context()
            page = context.new_page()
            login(page, base, who)
            if who is OPERATOR:
                page.goto(f"{base}/corsi")
                course = page.locator("main h2 a, main h3 a").first.get_attribute("href")
                page.goto(base + course)
                page.get_by_role("button", name="Iscriviti al corso").click()
                links = page.locator("main ol a[href^='/corsi/']")
                module = links.first.get_attribute("href")
                quiz_module = diagram = None
                for href in links.evaluate_all("(links) => links.map((a) => a.href)"):
                    page.goto(href)
                    quiz = page.get_by_role("link", name="Compila il questionario")
                    if quiz.count() and quiz_module is None:
                        quiz_module = quiz.first.get_attribute("href")
                    if page.locator("article img").count() and diagram is None:
                        diagram = href.removeprefix(base)
                paths.update(course=course, module=module, quiz=quiz_module, diagram=diagram)
            cookies[who[0]] = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
            context.close()
        browser.close()
    pages = {
        "home": ("/", None),
        "catalogue": ("/corsi", None),
        "course": (paths["course"], cookies[OPERATOR[0]]),
        "module": (paths["module"], cookies[OPERATOR[0]]),
        "module with a diagram": (paths["diagram"], cookies[OPERATOR[0]]),
        "quiz": (paths["quiz"], cookies[OPERATOR[0]]),
        "my courses": ("/i-miei-corsi", cookies[OPERATOR[0]]),
        "coordinator dashboard": ("/coordinamento/monitoraggio", cookies[COORDINATOR[0]]),
    }
    return pages, base


def audit(url: str, cookie: str | None, out: Path) -> dict:
    command = [
        LIGHTHOUSE,
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--form-factor=mobile",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run",
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    subprocess.run(  # noqa: S603 - our own command line
        command, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM}
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    scores = {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}
    audits = report["audits"]
    scores["lcp"] = audits["largest-contentful-paint"]["numericValue"] / 1000
    scores["cls"] = audits["cumulative-layout-shift"]["numericValue"]
    scores["bytes"] = audits["total-byte-weight"]["numericValue"] / 1000
    scores["failing"] = sorted(
        key
        for category in CATEGORIES
        for ref in report["categories"][category]["auditRefs"]
        if ref["weight"] > 0
        and category != "performance"
        and (audits[(key := ref["id"])].get("score") is not None)
        and audits[key]["score"] < 1
    )
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", help="comma-separated page names (default: all)")
    options = parser.parse_args()
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = production_env(Path(tmp) / "lighthouse.sqlite", port)
        prepare(env)
        server = start(env, port)
        try:
            pages, base = session_cookies(f"http://localhost:{port}")
            wanted = options.pages.split(",") if options.pages else list(pages)
            for name in wanted:
                path, cookie = pages[name]
                scores = audit(base + path, cookie, Path(tmp) / "report.json")
                rows.append((name, path, scores))
                print(name, scores, flush=True)
        finally:
            os.killpg(server.pid, 15)
            server.wait(10)
    lines = [
        "| Page | Path | Performance | Accessibility | Best practices | SEO | LCP (s) | CLS "
        "| Weight (KB) | Audits not passed (outside performance) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    misses = []
    for name, path, s in rows:
        lines.append(
            f"| {name} | `{path}` | {s['performance']} | {s['accessibility']} "
            f"| {s['best-practices']} | {s['seo']} | {s['lcp']:.1f} | {s['cls']:.3f} "
            f"| {s['bytes']:.0f} | {', '.join(s['failing']) or '–'} |"
        )
        misses += [f"{name}: {c} {s[c]} < {t}" for c, t in TARGETS.items() if s[c] < t]
    version = subprocess.run(  # noqa: S603
        [LIGHTHOUSE, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    chromium = " ".join(
        subprocess.run(  # noqa: S603
            [CHROMIUM, "--version"], capture_output=True, text=True, check=False
        ).stdout.split()
    )
    text = (
        "# Lighthouse (bench/lighthouse.py, `make lighthouse`)\n\n"
        f"Lighthouse {version}, mobile profile (simulated slow 4G, 4× CPU slowdown), "
        f"{chromium}; gunicorn in production mode on the demo data. Targets (issue 13): "
        "performance ≥ 90, accessibility 100, best practices 100, SEO ≥ 95.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    if misses:
        text += "\nBelow target: " + "; ".join(misses) + ".\n"
    if not options.pages:
        (ROOT / "bench" / "results" / "lighthouse.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
