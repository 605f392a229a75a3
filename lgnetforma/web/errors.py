"""Error pages in the user's language, never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, SecurityError

from lgnetforma.extensions import db
from lgnetforma.services.platform.cycles import NoCurrentCycle

MESSAGES = {
    400: (_l("Richiesta non valida"), _l("La richiesta non è stata compresa.")),
    403: (_l("Accesso non consentito"), _l("Non hai i permessi per vedere questa pagina.")),
    404: (_l("Pagina non trovata"), _l("La pagina che cerchi non esiste o è stata spostata.")),
    405: (_l("Metodo non consentito"), _l("Questa azione non è disponibile qui.")),
    413: (_l("File troppo grande"), _l("Il file inviato supera la dimensione massima.")),
    429: (
        _l("Troppi tentativi"),
        _l("Hai fatto troppe richieste in poco tempo: attendi qualche minuto e riprova."),
    ),
    500: (
        _l("Errore del servizio"),
        _l("Si è verificato un errore imprevisto. Riprova più tardi."),
    ),
    503: (
        _l("Servizio momentaneamente non disponibile"),
        _l("Il servizio non è raggiungibile in questo momento: nessun dato è andato perso."),
    ),
}


def render_error(status: int, detail: str | None = None) -> Response:
    title, message = MESSAGES.get(status, MESSAGES[500])
    if request.path.startswith("/api/"):
        response = make_response(
            {"error": {"status": status, "message": str(detail or message)}}, status
        )
    else:
        response = make_response(
            render_template(
                "errors/error.html", status=status, title=title, message=detail or message
            ),
            status,
        )
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # noqa: ANN202
        return render_error(
            400, str(_l("La sessione del modulo è scaduta o non è valida: ricarica la pagina."))
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError):  # noqa: ANN202
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no templated page.
        return Response(
            "400 Bad Request: host not recognised / indirizzo del sito non riconosciuto\n",
            status=400,
            mimetype="text/plain",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # noqa: ANN202
        return render_error(error.code or 500)

    @app.errorhandler(NoCurrentCycle)
    def no_current_cycle(error: NoCurrentCycle):  # noqa: ANN202
        # Between the closing of a cycle and the opening of the next: say so, no 500.
        db.session.rollback()
        return render_error(503, str(error))

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):  # noqa: ANN202
        db.session.rollback()
        app.logger.error("database unavailable: %s", error)
        return render_error(503)

    if app.testing and not app.config.get("SHOW_ERROR_PAGES_IN_TESTS"):
        return  # let tests see the real exception

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):  # noqa: ANN202
        db.session.rollback()
        app.logger.exception("unexpected error")
        return render_error(500)
