"""Coordinators' and trainers' report pages in Chromium: charts drawn, no WCAG violations."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.services.platform.cycles import current_cycle
from tests.factories.courses import import_courses, write_course


def _seed(app, tmp_path) -> None:  # noqa: ANN001
    import_courses(app, write_course(tmp_path / "c").parent)
    with app.app_context():
        seed_synthetic(300, seed=4, cycle=current_cycle(), now=datetime(2026, 11, 1, tzinfo=UTC))


def test_dashboard_and_coverage_pages(
    page, live_server, app, make_user, browser_login, axe, tmp_path
):
    _seed(app, tmp_path)
    browser_login(make_user("coordinator"))
    page.goto(f"{live_server}/coordinamento/monitoraggio")
    expect(page.get_by_role("heading", name="Monitoraggio del ciclo 2025-2026")).to_be_visible()
    # Chart.js drew both charts (the canvas gets a size and a chart instance).
    page.wait_for_function("document.querySelectorAll('canvas.report-chart').length === 2")
    assert page.evaluate(
        "[...document.querySelectorAll('canvas.report-chart')].every(c => Chart.getChart(c))"
    )
    expect(page.get_by_role("table", name="Iscrizioni e completamenti per regione")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Lazio").click()
    expect(page.get_by_text("Dettaglio della regione Lazio")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Vedi i comuni idonei non ancora raggiunti").click()
    expect(page.get_by_role("heading", name="Comuni idonei non ancora raggiunti")).to_be_visible()
    axe(page)


def test_item_analysis_pages(page, live_server, app, make_user, browser_login, axe, tmp_path):
    _seed(app, tmp_path)
    browser_login(make_user("trainer"))
    page.goto(f"{live_server}/editor/analisi")
    axe(page)
    page.get_by_role("link", name="Il modulo con il questionario").first.click()
    expect(page.get_by_role("table", name="Risultati per domanda")).to_be_visible()
    axe(page)
