"""Every route for every role: who gets in, who is sent to log in, who is refused.

A new route must be declared in ACCESS, or this test fails: nothing ships unreviewed.
"""

from __future__ import annotations

import pytest

from tests.helpers import csrf_token, login

ROLES = ("operator", "trainer", "coordinator", "admin")
PUBLIC = "public"
LOGGED_IN = "logged-in"
# /api/v1: bearer token only, so without one everybody (even logged in) gets 401 JSON.
TOKEN = "token"

# endpoint -> PUBLIC, LOGGED_IN, TOKEN, or the set of roles allowed.
ACCESS: dict[str, str | set[str]] = {
    "static": PUBLIC,
    "public.home": PUBLIC,
    "public.health": PUBLIC,
    "public.ready": PUBLIC,
    "public.privacy": PUBLIC,
    "public.accessibility": PUBLIC,
    "public.set_language": PUBLIC,
    "auth.register": PUBLIC,
    "auth.confirm": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.reset_request": PUBLIC,
    "auth.reset": PUBLIC,
    "auth.resend_confirmation": PUBLIC,
    "auth.profile": LOGGED_IN,
    "learn.catalogue": PUBLIC,
    "learn.course": PUBLIC,
    "learn.module": LOGGED_IN,
    "learn.media": PUBLIC,
    "learn.enrol": {"operator"},
    "learn.my_courses": {"operator"},
    "learn.quiz": {"operator"},
    "learn.submit": {"operator"},
    "learn.attempt": {"operator"},
    "certificates.download": LOGGED_IN,
    "certificates.verify": PUBLIC,
    "auth.my_data": LOGGED_IN,
    "auth.delete_me": LOGGED_IN,
    "auth.create_api_token": LOGGED_IN,
    "auth.revoke_api_token": LOGGED_IN,
    "api.openapi": PUBLIC,
    "api.courses": TOKEN,
    "api.comuni": TOKEN,
    "api.completion_report": TOKEN,
    "api.coverage_report": TOKEN,
    "api.operator_progress": TOKEN,
    "coordinate.home": {"coordinator", "admin"},
    "coordinate.enrol": {"coordinator", "admin"},
    "coordinate.certificates": {"coordinator", "admin"},
    "coordinate.bulk_upload": {"coordinator", "admin"},
    "coordinate.bulk_confirm": {"coordinator", "admin"},
    "coordinate.bulk_example": {"coordinator", "admin"},
    "coordinate.reminders": {"coordinator", "admin"},
    "coordinate.send_reminders": {"coordinator", "admin"},
    "coordinate.dashboard": {"coordinator", "admin"},
    "author.analysis": {"trainer", "admin"},
    "author.analysis_detail": {"trainer", "admin"},
    "coordinate.coverage": {"coordinator", "admin"},
    "coordinate.export": {"coordinator", "admin"},
    "author.courses": {"trainer", "admin"},
    "author.new_course": {"trainer", "admin"},
    "author.edit_course": {"trainer", "admin"},
    "author.discard_course_draft": {"trainer", "admin"},
    "author.publish": {"trainer", "admin"},
    "author.preview": {"trainer", "admin"},
    "author.add_module": {"trainer", "admin"},
    "author.edit_module": {"trainer", "admin"},
    "author.discard_module_draft": {"trainer", "admin"},
    "author.move_module": {"trainer", "admin"},
    "author.retire_module": {"trainer", "admin"},
    "author.restore_module": {"trainer", "admin"},
    "admin.users": {"admin"},
    "admin.create_user": {"admin"},
    "admin.edit_user": {"admin"},
    "admin.cycles": {"admin"},
    "admin.close_cycle": {"admin"},
    "admin.new_cycle": {"admin"},
    "admin.audit_log": {"admin"},
    "admin.confirm_user": {"admin"},
    "admin.resend_user_confirmation": {"admin"},
    "admin.outbox": {"admin"},
    "admin.resend_mail": {"admin"},
    "admin.cancel_mail": {"admin"},
    "admin.scheduled_jobs": {"admin"},
    "coordinate.audit_log": {"coordinator", "admin"},
    "coordinate.operators": {"coordinator", "admin"},
    "coordinate.operator": {"coordinator", "admin"},
    "coordinate.grant": {"coordinator", "admin"},
    "author.grant_attempts": {"trainer", "admin"},
    "sessions.index": LOGGED_IN,
    "sessions.detail": LOGGED_IN,
    "sessions.register": {"operator"},
    "sessions.unregister": {"operator"},
    "sessions.invitation": LOGGED_IN,
    "sessions.new": {"trainer", "coordinator", "admin"},
    "sessions.edit": {"trainer", "coordinator", "admin"},
    "sessions.cancel": {"trainer", "coordinator", "admin"},
    "sessions.attendance": {"trainer", "coordinator", "admin"},
    "sessions.attendance_import_preview": {"trainer", "coordinator", "admin"},
    "sessions.attendance_import_confirm": {"trainer", "coordinator", "admin"},
    "sessions.attendance_template": {"trainer", "coordinator", "admin"},
    "sessions.record": LOGGED_IN,
    "sessions.statement": LOGGED_IN,
    "sessions.record_csv": LOGGED_IN,
    "sessions.figures": {"coordinator", "admin"},
    "sessions.figures_export": {"coordinator", "admin"},
    "api.sessions": TOKEN,
    "api.operator_record": TOKEN,
    # SPID/CIE (404 until configured) and the development test IdP (404 unless enabled).
    "spid.metadata": PUBLIC,
    "spid.metadata_cie": PUBLIC,
    "spid.login": PUBLIC,
    "spid.acs": PUBLIC,
    "spid.slo": PUBLIC,
    "spid.complete": PUBLIC,
    "spid.link": LOGGED_IN,
    "spid.delete": LOGGED_IN,
    "spid_test_idp.metadata": PUBLIC,
    "spid_test_idp.sso": PUBLIC,
    "spid_test_idp.slo": PUBLIC,
    "accessibility.feedback": PUBLIC,
}
# Posted by identity providers from their own site: no CSRF token can be there. What protects
# them is the signed, stored-request checks (tests/test_spid.py).
CSRF_EXEMPT = {"spid.acs", "spid.slo"}

SAMPLE_ARGS = {
    "integer": 1,
    "int": 1,
    "id": 1,
    "default": "x",
    "path": "css/app.css",
    "string": "x",
}


def _url(app, rule) -> str:
    values = {}
    for name, converter in rule._converters.items():  # noqa: SLF001
        kind = type(converter).__name__.replace("Converter", "").lower()
        if name == "user_id":
            values[name] = 1
        elif name == "filename":
            values[name] = "css/app.css"
        else:
            values[name] = SAMPLE_ARGS.get(kind, "x")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_route_is_declared(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ACCESS.keys() == set(), "declare the access rule of new routes"
    assert ACCESS.keys() - endpoints == set(), "remove routes that no longer exist"


@pytest.mark.parametrize("role", [None, *ROLES])
def test_each_role_reaches_only_what_it_may(app, make_user, role):
    client = app.test_client()
    if role:
        login(client, make_user(role))
    # A valid token on every POST, so what refuses the request is the access rule.
    token = csrf_token(client)
    for rule in app.url_map.iter_rules():
        rule_access = ACCESS[rule.endpoint]
        url = _url(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint == "auth.logout" and method == "POST":
                continue  # public, and logging out would end this walk
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            status = response.status_code
            allowed = (
                rule_access == PUBLIC
                or (rule_access == LOGGED_IN and role is not None)
                or (isinstance(rule_access, set) and role in rule_access)
            )
            where = f"{method} {url} as {role or 'anonymous'}"
            if rule_access == TOKEN:
                assert status == 401 and response.is_json, where
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
                continue
            if allowed:
                assert status not in (401, 403), where
                assert status < 500, where
            elif role is None:
                assert status == 302 and "/accesso" in response.headers["Location"], where
            else:
                assert status == 403, where
