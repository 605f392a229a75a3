"""Browser tests: every test here drives Debian's Chromium through Playwright."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.helpers import PASSWORD

WCAG21AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def axe():  # noqa: ANN201
    engine = Axe()

    def check(page) -> None:  # noqa: ANN001
        result = engine.run(page, options=WCAG21AA)
        assert result.violations_count == 0, f"{page.url}\n{result.generate_report()}"

    return check


def _is_error_page_itself(message, page) -> bool:  # noqa: ANN001
    """Chromium logs "Failed to load resource" for a 404 or 403 page it was sent to on
    purpose: that is the page under test, not a broken resource."""
    return (
        message.text.startswith("Failed to load resource")
        and message.location.get("url") == page.url
    )


@pytest.fixture
def allowed_console_errors() -> list[str]:
    """Substrings of console errors a test provokes on purpose (a hostile broken image)."""
    return []


@pytest.fixture
def page(page, live_server, allowed_console_errors):  # noqa: ANN001, ANN201
    """A Chromium page that fails the test on any console error (CSP violations included)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text} ({message.location.get('url')})")
            if message.type == "error"
            and not _is_error_page_itself(message, page)
            and not any(
                allowed in f"{message.text} {message.location.get('url')}"
                for allowed in allowed_console_errors
            )
            else None
        ),
    )
    # Generous: CI runs two workers on two cores, with Chromium and PostgreSQL alongside.
    page.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    yield page
    assert problems == [], problems


@pytest.fixture
def browser_login(page, live_server):  # noqa: ANN001, ANN201
    def do(user: dict) -> None:
        page.goto(f"{live_server}/accesso")
        page.get_by_label("Email").fill(user["email"])
        page.get_by_label("Password").fill(user.get("password", PASSWORD))
        page.get_by_role("button", name="Accedi").last.click()
        page.wait_for_url(f"{live_server}/")

    return do
