"""The PA's notices: the accessibility statement with AgID's declaration and a feedback form
that reaches the accessibility contact through the outbox; the privacy notice naming the
controller, the DPO and the retention periods."""

from __future__ import annotations

from typing import Any

from tests.helpers import Mailbox, csrf_token


def test_accessibility_feedback_reaches_the_contact(app: Any, mailbox: Mailbox) -> None:
    app.config.update(
        ACCESSIBILITY_CONTACT_EMAIL="accessibilita@example.gov.it",
        ACCESSIBILITY_DECLARATION_URL="https://form.agid.gov.it/view/lgnetforma",
    )
    client = app.test_client()
    statement = client.get("/accessibilita").get_data(as_text=True)
    assert "https://form.agid.gov.it/view/lgnetforma" in statement
    assert "/accessibilita/segnala" in statement and "30 giorni" in statement
    token = csrf_token(client, "/accessibilita/segnala")
    missing = client.post("/accessibilita/segnala", data={"csrf_token": token, "email": "a@b.it"})
    assert missing.status_code == 400 and "Il problema" in missing.get_data(as_text=True)
    response = client.post(
        "/accessibilita/segnala",
        data={
            "csrf_token": token,
            "name": "Anna Bianchi",
            "email": "anna@comune.example.it",
            "page": "/corsi",
            "message": "Il lettore di schermo non legge il pulsante Iscriviti.",
        },
    )
    assert response.status_code == 200 and "30 giorni" in response.get_data(as_text=True)
    body = mailbox.last_body("accessibilita@example.gov.it")
    assert "non legge il pulsante" in body and "anna@comune.example.it" in body
    assert "30" in body


def test_feedback_without_a_contact_says_so(app: Any) -> None:
    page = app.test_client().get("/accessibilita/segnala").get_data(as_text=True)
    assert "non ha ancora indicato il recapito" in page


def test_privacy_notice_names_controller_dpo_and_retention(app: Any) -> None:
    app.config.update(
        PRIVACY_CONTROLLER="Ministero dell'Interno, Piazza del Viminale 1, Roma",
        PRIVACY_DPO_EMAIL="rpd@interno.example.it",
    )
    page = app.test_client().get("/privacy").get_data(as_text=True)
    assert "Piazza del Viminale 1" in page
    assert "mailto:rpd@interno.example.it" in page
    assert "dopo 24 ore" in page  # the SAML requests' purge (identity._purge_old_requests)
    assert "codice fiscale" in page
