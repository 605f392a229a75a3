"""JSON errors of the API: always {"error": {"status": n, "message": "…"}}."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, jsonify
from flask_babel import lazy_gettext as _l

MESSAGES = {
    400: _l("Richiesta non valida."),
    401: _l("Autenticazione richiesta: invia l'intestazione 'Authorization: Bearer <token>'."),
    403: _l("Non hai i permessi per questa risorsa."),
    404: _l("Risorsa non trovata. L'elenco delle risorse è in /api/v1/openapi.json."),
    405: _l("Metodo non consentito su questa risorsa."),
    429: _l("Troppe richieste: attendi qualche minuto e riprova."),
    500: _l("Errore imprevisto del servizio. Riprova più tardi."),
    503: _l("Servizio momentaneamente non disponibile."),
}
# RFC 6750: every 401 says how to authenticate.
BEARER_CHALLENGE = 'Bearer realm="LGNetforma API"'


def error_response(
    status: int, message: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The one way the API answers with an error."""
    text = str(message or MESSAGES.get(status, MESSAGES[500]))
    response = jsonify({"error": {"status": status, "message": text}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = BEARER_CHALLENGE
    if headers:
        response.headers.update(headers)
    response.headers["Cache-Control"] = "no-store"
    return response


class ApiError(Exception):
    """Raised by API views; turned into ``error_response`` by the blueprint."""

    def __init__(
        self, status: int, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(str(message or MESSAGES.get(status, "")))
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return error_response(self.status, self.message, self.headers)


def bad_parameter(name: str, reason: str) -> ApiError:
    """400 naming the parameter and what is wrong with it."""
    return ApiError(400, f"{name}: {reason}")
