"""The OpenAPI 3.0 document of /api/v1, built in code.

Query parameters are declared once, here, as ``Param`` objects: the document shows them
and the views parse requests with the very same definitions, so the published schema and
the validation cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from flask_babel import gettext as _

from lgnetforma.models.base import MAX_ID
from lgnetforma.services.reporting.facts import GROUP_BY

API_VERSION = "1.0.0"
CYCLE_PATTERN = r"^[0-9]{4}-[0-9]{4}$"
REGION_PATTERN = r"^[0-9]{2}$"
PROVINCE_PATTERN = r"^([0-9]{3}|[A-Za-z]{2})$"
COMUNE_PATTERN = r"^[0-9]{6}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
# No control characters: they cannot be part of a comune's name.
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
MAX_PAGE = 100_000
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
MAX_USER_ID = MAX_ID


def _shown(value: str) -> str:
    """A received value quoted for an error message, control characters escaped."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


@dataclass(frozen=True)
class Param:
    """A query parameter: its OpenAPI description and its parser."""

    name: str
    kind: Literal["string", "integer", "boolean"]
    description: str
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    default: Any = None
    example: Any = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.kind}
        for key, value in (
            ("enum", list(self.enum) if self.enum else None),
            ("pattern", self.pattern),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("default", self.default),
        ):
            if value is not None:
                schema[key] = value
        return schema

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": self.schema(),
        }
        if self.example is not None:
            doc["example"] = self.example
        return doc

    def parse(self, raw: str) -> Any:
        """The value of ``raw``, or ValueError with the reason in Italian."""
        if raw == "":
            raise ValueError(_("valore vuoto"))
        if self.kind == "boolean":
            if raw not in ("true", "false"):
                raise ValueError(
                    _("valore non ammesso %(value)s (ammessi: true, false)", value=_shown(raw))
                )
            return raw == "true"
        if self.kind == "integer":
            if not re.fullmatch(r"[0-9]{1,12}", raw):
                raise ValueError(_("%(value)s non è un numero intero positivo", value=_shown(raw)))
            number = int(raw)
            if self.minimum is not None and number < self.minimum:
                raise ValueError(_("deve essere almeno %(n)d", n=self.minimum))
            if self.maximum is not None and number > self.maximum:
                raise ValueError(_("deve essere al massimo %(n)d", n=self.maximum))
            return number
        if self.enum is not None and raw not in self.enum:
            raise ValueError(
                _(
                    "valore non ammesso %(value)s (ammessi: %(allowed)s)",
                    value=_shown(raw),
                    allowed=", ".join(self.enum),
                )
            )
        if self.min_length is not None and len(raw) < self.min_length:
            raise ValueError(_("almeno %(n)d caratteri", n=self.min_length))
        if self.max_length is not None and len(raw) > self.max_length:
            raise ValueError(_("al massimo %(n)d caratteri", n=self.max_length))
        if self.pattern is not None and not re.fullmatch(self.pattern, raw):
            raise ValueError(_("formato non valido %(value)s", value=_shown(raw)))
        return raw


def cycle_param() -> Param:
    return Param(
        "cycle",
        "string",
        _("Il ciclo formativo, ad esempio 2025-2026; se manca, il ciclo corrente."),
        pattern=CYCLE_PATTERN,
        example="2025-2026",
    )


def region_param() -> Param:
    return Param(
        "region",
        "string",
        _("Codice ISTAT della regione, di due cifre (ad esempio 12 per il Lazio)."),
        pattern=REGION_PATTERN,
        example="12",
    )


def province_param() -> Param:
    return Param(
        "province",
        "string",
        _("Codice ISTAT della provincia (tre cifre, ad esempio 058) o la sua sigla (RM)."),
        pattern=PROVINCE_PATTERN,
        example="RM",
    )


def comune_param() -> Param:
    return Param(
        "comune",
        "string",
        _("Codice ISTAT del comune, di sei cifre (ad esempio 058091 per Roma)."),
        pattern=COMUNE_PATTERN,
        example="058091",
    )


def course_param() -> Param:
    return Param(
        "course",
        "string",
        _("Il corso, indicato dal suo slug: solo le cifre di quel corso."),
        pattern=SLUG_PATTERN,
        example="anagrafe-digitale",
    )


def courses_params() -> tuple[Param, ...]:
    return ()


def comuni_params() -> tuple[Param, ...]:
    return (
        Param(
            "eligible",
            "boolean",
            _("Solo i comuni idonei al ciclo (true) o solo i non idonei (false)."),
        ),
        region_param(),
        province_param(),
        Param(
            "q",
            "string",
            _("L'inizio del nome del comune, senza distinzione tra maiuscole e minuscole."),
            pattern=TEXT_PATTERN,
            min_length=1,
            max_length=100,
            example="Rom",
        ),
        cycle_param(),
        Param("page", "integer", _("La pagina, da 1."), minimum=1, maximum=MAX_PAGE, default=1),
        Param(
            "per_page",
            "integer",
            _("Comuni per pagina."),
            minimum=1,
            maximum=MAX_PER_PAGE,
            default=DEFAULT_PER_PAGE,
        ),
    )


def completion_params() -> tuple[Param, ...]:
    return (
        Param(
            "group_by",
            "string",
            _("Come raggruppare le righe."),
            enum=GROUP_BY,
            default="region",
        ),
        cycle_param(),
        region_param(),
        province_param(),
        comune_param(),
        course_param(),
    )


def coverage_params() -> tuple[Param, ...]:
    return (cycle_param(), region_param(), province_param(), comune_param())


def progress_params() -> tuple[Param, ...]:
    return (cycle_param(),)


def sessions_params() -> tuple[Param, ...]:
    return (cycle_param(),)


def record_params() -> tuple[Param, ...]:
    return (
        Param(
            "year",
            "integer",
            _("L'anno solare; se manca, l'anno in corso."),
            minimum=2000,
            maximum=2100,
            example=2026,
        ),
    )


# --- schemas ---------------------------------------------------------------------------


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


COUNT = {"type": "integer", "minimum": 0}
RATE = _nullable({"type": "number", "minimum": 0, "maximum": 1})


def _schemas() -> dict[str, Any]:
    figures = {
        "enrolled": {**COUNT, "description": _("Operatori con almeno un'iscrizione.")},
        "enrolments": {**COUNT, "description": _("Iscrizioni (un operatore in un corso).")},
        "active_30d": {**COUNT, "description": _("Iscritti attivi negli ultimi 30 giorni.")},
        "completions": {**COUNT, "description": _("Corsi completati.")},
        "completion_rate": {**RATE, "description": _("Completamenti / iscrizioni.")},
        "attempts": {**COUNT, "description": _("Tentativi di questionario consegnati.")},
        "passed_attempts": {**COUNT, "description": _("Tentativi superati.")},
        "quiz_pass_rate": {**RATE, "description": _("Tentativi superati / consegnati.")},
    }
    session_figures = {
        "sessions": COUNT,
        "sessions_held": COUNT,
        "registrations": COUNT,
        "attended": {**COUNT, "description": _("Presenti con le ore riconosciute.")},
        "attendance_rate": {
            **RATE,
            "description": _("Presenti / iscritti degli incontri già svolti."),
        },
        "hours_credited": {"type": "number", "minimum": 0},
    }
    return {
        "Error": _object(
            {
                "error": _object(
                    {
                        "status": {"type": "integer", "minimum": 400, "maximum": 599},
                        "message": {"type": "string", "minLength": 1},
                    }
                )
            }
        ),
        "Scope": _object(
            {
                "kind": {"type": "string", "enum": ["national", "region", "comune"]},
                "region": _nullable({"type": "string", "pattern": REGION_PATTERN}),
                "comune": _nullable({"type": "string", "pattern": r"^[0-9]{6}$"}),
            }
        ),
        "Course": _object(
            {
                "slug": {"type": "string"},
                "title": {"type": "string"},
                "summary": {"type": "string"},
                "area": _nullable({"type": "string"}),
                "hours": {"type": "number", "minimum": 0},
                "modules": COUNT,
                "minutes": COUNT,
            }
        ),
        "CourseList": _object(
            {"cycle": {"type": "string"}, "courses": {"type": "array", "items": _ref("Course")}}
        ),
        "Province": _object(
            {
                "code": {"type": "string", "pattern": r"^[0-9]{3}$"},
                "abbreviation": {"type": "string"},
                "name": {"type": "string"},
            }
        ),
        "Region": _object(
            {"code": {"type": "string", "pattern": REGION_PATTERN}, "name": {"type": "string"}}
        ),
        "Comune": _object(
            {
                "istat_code": {"type": "string", "pattern": r"^[0-9]{6}$"},
                "name": {"type": "string"},
                "province": _ref("Province"),
                "region": _ref("Region"),
                "population": _nullable(COUNT),
                "eligible": {"type": "boolean"},
            }
        ),
        "ComuneList": _object(
            {
                "cycle": {"type": "string"},
                "total": COUNT,
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "items": {"type": "array", "items": _ref("Comune")},
            }
        ),
        "Figures": _object(figures),
        "ReportRow": _object(
            {
                "key": {
                    "type": "string",
                    "description": _(
                        "Codice della regione, sigla della provincia, codice ISTAT del comune "
                        "o slug del corso."
                    ),
                },
                "name": {"type": "string"},
                **figures,
            }
        ),
        "CompletionReport": _object(
            {
                "cycle": {"type": "string"},
                "group_by": {"type": "string", "enum": list(GROUP_BY)},
                "scope": _ref("Scope"),
                "region": _nullable({"type": "string", "pattern": REGION_PATTERN}),
                "province": _nullable({"type": "string", "pattern": r"^[0-9]{3}$"}),
                "comune": _nullable({"type": "string", "pattern": COMUNE_PATTERN}),
                "course": _nullable({"type": "string", "pattern": SLUG_PATTERN}),
                "summary": _ref("Figures"),
                "rows": {"type": "array", "items": _ref("ReportRow")},
            }
        ),
        "Coverage": _object(
            {
                "eligible_comuni": COUNT,
                "reached_comuni": COUNT,
                "comuni_with_completion": COUNT,
                "reached_rate": RATE,
                "completed_rate": RATE,
            }
        ),
        "CoverageReport": _object(
            {
                "cycle": {"type": "string"},
                "scope": _ref("Scope"),
                "region": _nullable({"type": "string", "pattern": REGION_PATTERN}),
                "province": _nullable({"type": "string", "pattern": r"^[0-9]{3}$"}),
                "comune": _nullable({"type": "string", "pattern": COMUNE_PATTERN}),
                "coverage": _ref("Coverage"),
            }
        ),
        "CourseProgress": _object(
            {
                "slug": {"type": "string"},
                "title": {"type": "string"},
                "modules_done": COUNT,
                "modules_total": COUNT,
                "quizzes_passed": COUNT,
                "quizzes_total": COUNT,
                "hours": {"type": "number", "minimum": 0},
                "completed_at": _nullable({"type": "string", "format": "date-time"}),
            }
        ),
        "SessionFigures": _object(session_figures),
        "RegionSessionFigures": _object(
            {
                "region": {"type": "string"},
                "name": {"type": "string"},
                **session_figures,
            }
        ),
        "SessionRow": _object(
            {
                "id": {"type": "integer", "minimum": 1},
                "title": {"type": "string"},
                "kind": {"type": "string", "enum": ["webinar", "in_person", "hybrid"]},
                "starts_at": {"type": "string", "format": "date-time"},
                "territory": {"type": "string"},
                "cancelled": {"type": "boolean"},
                "registrations": COUNT,
                "waiting": COUNT,
                "attended": COUNT,
                "hours_credited": {"type": "number", "minimum": 0},
            }
        ),
        "SessionList": _object(
            {
                "cycle": {"type": "string"},
                "scope": _ref("Scope"),
                "summary": _ref("SessionFigures"),
                "regions": {"type": "array", "items": _ref("RegionSessionFigures")},
                "sessions": {"type": "array", "items": _ref("SessionRow")},
            }
        ),
        "RecordItem": _object(
            {
                "kind": {"type": "string", "enum": ["course", "session"]},
                "title": {"type": "string"},
                "date": {"type": "string", "format": "date"},
                "hours": {"type": "number", "minimum": 0},
                "cycle": {"type": "string"},
            }
        ),
        "OperatorRecord": _object(
            {
                "user": {"type": "object"},
                "year": {"type": "integer"},
                "goal_hours": {"type": "number", "minimum": 0},
                "total_hours": {"type": "number", "minimum": 0},
                "items": {"type": "array", "items": _ref("RecordItem")},
                "cycles": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "minimum": 0},
                },
            }
        ),
        "OperatorProgress": _object(
            {
                "user": _object(
                    {
                        "id": {"type": "integer", "minimum": 1},
                        "full_name": {"type": "string"},
                        "comune": _nullable(
                            _object(
                                {
                                    "istat_code": {"type": "string", "pattern": r"^[0-9]{6}$"},
                                    "name": {"type": "string"},
                                }
                            )
                        ),
                    }
                ),
                "cycle": {"type": "string"},
                "courses": {"type": "array", "items": _ref("CourseProgress")},
            }
        ),
    }


# --- operations ------------------------------------------------------------------------


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema_name)}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    descriptions = {
        400: _("Parametro non valido: il messaggio dice quale e perché."),
        401: _("Token mancante, non valido o revocato."),
        403: _("Il ruolo del titolare del token non consente questa richiesta."),
        404: _("Ciclo, territorio o operatore inesistente o fuori dal proprio ambito."),
        503: _("Nessun ciclo formativo aperto, o servizio momentaneamente non disponibile."),
    }
    responses: dict[str, Any] = {}
    for status in statuses:
        response = _json("Error", descriptions[status])
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": _("Come autenticarsi: Bearer."),
                    "required": True,
                    "schema": {"type": "string"},
                }
            }
        responses[str(status)] = response
    return responses


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    params: tuple[Param, ...],
    ok: dict[str, Any],
    errors: tuple[int, ...],
    *,
    tag: str,
    path_params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "tags": [tag],
            "summary": summary,
            "description": description,
            "parameters": [*(path_params or []), *(p.document() for p in params)],
            "responses": {"200": ok, **_errors(*errors)},
        }
    }


def build_document() -> dict[str, Any]:
    """The whole OpenAPI document, in the language of the request (Italian first)."""
    reports_note = _(
        "Solo per coordinatori e amministratori; i dati sono limitati all'ambito "
        "territoriale del titolare del token (nazionale, una regione o un comune)."
    )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "LGNetforma API",
            "version": API_VERSION,
            "description": _(
                "API JSON della piattaforma LGNetforma. Ci si autentica con un token personale, "
                "creato nel proprio profilo o con 'lgnetforma tokens create', inviato "
                "nell'intestazione 'Authorization: Bearer <token>'. Gli errori hanno sempre "
                'la forma {"error": {"status": n, "message": "…"}}.'
            ),
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "catalogo", "description": _("Corsi e registro dei comuni.")},
            {"name": "monitoraggio", "description": reports_note},
            {"name": "documentazione"},
        ],
        "paths": {
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "tags": ["documentazione"],
                    "summary": _("Questo documento"),
                    "security": [],
                    "responses": {
                        "200": {
                            "description": _("Il documento OpenAPI."),
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/courses": _operation(
                "listCourses",
                _("Corsi pubblicati del ciclo corrente"),
                _("Per ogni corso: slug, titolo, sintesi, area, ore, moduli e minuti."),
                courses_params(),
                _json("CourseList", _("I corsi.")),
                (400, 401, 503),
                tag="catalogo",
            ),
            "/comuni": _operation(
                "listComuni",
                _("Registro ISTAT dei comuni"),
                _(
                    "I comuni, per nome, con provincia, regione, popolazione e idoneità al "
                    "ciclo. Per i coordinatori l'elenco è limitato al loro ambito territoriale."
                ),
                comuni_params(),
                _json("ComuneList", _("Una pagina di comuni.")),
                (400, 401, 404, 503),
                tag="catalogo",
            ),
            "/reports/completion": _operation(
                "completionReport",
                _("Iscrizioni e completamenti per regione, provincia, comune o corso"),
                reports_note
                + " "
                + _(
                    "region, province, comune e course restringono la selezione; summary "
                    "riporta le cifre della selezione, le stesse delle schede del cruscotto."
                ),
                completion_params(),
                _json("CompletionReport", _("Le righe del rapporto e il riepilogo.")),
                (400, 401, 403, 404, 503),
                tag="monitoraggio",
            ),
            "/reports/coverage": _operation(
                "coverageReport",
                _("Copertura dei comuni idonei"),
                reports_note,
                coverage_params(),
                _json("CoverageReport", _("Comuni idonei, raggiunti e con completamenti.")),
                (400, 401, 403, 404, 503),
                tag="monitoraggio",
            ),
            "/operators/{user_id}/progress": _operation(
                "operatorProgress",
                _("Avanzamento di un operatore"),
                _(
                    "L'operatore stesso, oppure un coordinatore o amministratore il cui ambito "
                    "comprende il comune dell'operatore; per chiunque altro 404."
                ),
                progress_params(),
                _json("OperatorProgress", _("I corsi a cui l'operatore è iscritto nel ciclo.")),
                (400, 401, 404, 503),
                tag="monitoraggio",
                path_params=[
                    {
                        "name": "user_id",
                        "in": "path",
                        "required": True,
                        "description": _("L'identificativo dell'operatore."),
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_USER_ID},
                    }
                ],
            ),
            "/sessions": _operation(
                "listSessions",
                _("Incontri dal vivo: iscrizioni, presenze e ore riconosciute"),
                reports_note
                + " "
                + _(
                    "Gli incontri nazionali, della regione e dei comuni dell'ambito; iscrizioni, "
                    "presenze e ore contano solo gli operatori dell'ambito."
                ),
                sessions_params(),
                _json("SessionList", _("Gli incontri del ciclo e il riepilogo.")),
                (400, 401, 403, 404, 503),
                tag="monitoraggio",
            ),
            "/operators/{user_id}/record": _operation(
                "operatorRecord",
                _("Formazione di un operatore in un anno"),
                _(
                    "Corsi completati e incontri con le ore riconosciute, rispetto "
                    "all'obiettivo annuale. L'operatore stesso, oppure un coordinatore o "
                    "amministratore il cui ambito comprende il suo comune; per chiunque altro 404."
                ),
                record_params(),
                _json("OperatorRecord", _("Le attività dell'anno e i totali.")),
                (400, 401, 404),
                tag="monitoraggio",
                path_params=[
                    {
                        "name": "user_id",
                        "in": "path",
                        "required": True,
                        "description": _("L'identificativo dell'operatore."),
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_USER_ID},
                    }
                ],
            ),
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "lgf_…",
                    "description": _("Un token personale di LGNetforma."),
                }
            },
            "schemas": _schemas(),
        },
    }
