"""The accessibility statement's feedback mechanism (Legge 4/2004, AgID guidelines): a form
whose message reaches the configured accessibility contact through the outbox; the
administration answers within 30 days."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from lgnetforma.extensions import db, limiter
from lgnetforma.services.platform.mail import queue_mail
from lgnetforma.web.audit import audit
from lgnetforma.web.forms import email_validators, plain_text, required, strip

bp = Blueprint("accessibility", __name__)
ANSWER_DAYS = 30  # AgID guidelines on accessibility, feedback mechanism


class FeedbackForm(FlaskForm):
    name = StringField(
        _l("Nome e cognome"),
        validators=[
            Optional(),
            Length(max=200, message=_l("Al massimo 200 caratteri.")),
            plain_text,
        ],
        filters=[strip],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        _l("Email"),
        validators=email_validators(),
        filters=[strip],
        description=_l("Per risponderti."),
        render_kw={"autocomplete": "email"},
    )
    page = StringField(
        _l("Pagina o funzione"),
        validators=[
            Optional(),
            Length(max=500, message=_l("Al massimo 500 caratteri.")),
            plain_text,
        ],
        filters=[strip],
        description=_l("L'indirizzo della pagina o il nome della funzione che non riesci a usare."),
    )
    message = TextAreaField(
        _l("Il problema"),
        validators=[required(), Length(max=5000, message=_l("Al massimo 5.000 caratteri."))],
        filters=[strip],
        description=_l("Che cosa non funziona e con quale tecnologia assistiva o browser."),
        render_kw={"rows": 6},
    )


@bp.route("/accessibilita/segnala", methods=["GET", "POST"])
@limiter.limit("10/hour", methods=["POST"])
def feedback() -> str | Response | tuple[str, int]:
    contact = current_app.config.get("ACCESSIBILITY_CONTACT_EMAIL") or ""
    form = FeedbackForm()
    if contact and form.validate_on_submit():
        body = render_template(
            "mail/accessibility_feedback.txt", form=form, days=ANSWER_DAYS, ip=request.remote_addr
        )
        queue_mail(contact, _("Segnalazione di accessibilità – LGNetforma"), body)
        audit("accessibility.feedback", details={"page": (form.page.data or "")[:200]})
        db.session.commit()
        return render_template("public/feedback_sent.html", days=ANSWER_DAYS)
    status = 200 if request.method == "GET" or not contact else 400
    return render_template(
        "public/feedback.html", form=form, contact=contact, days=ANSWER_DAYS
    ), status
