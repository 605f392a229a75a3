"""publiccode.yml at the root: complete for the Developers Italia catalogue.

The schema below is the standard's (publiccode.yml 0.4, docs "The Standard (core)" and "Italian
extension") written as JSON Schema: required keys, their types and their closed value lists.
The official validator is publiccode-parser (Go); this check runs without it, in `make test`.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
import yaml

from lgnetforma import PROJECT_ROOT

STRING = {"type": "string", "minLength": 1}
LANGUAGE_DESCRIPTION = {
    "type": "object",
    "required": ["shortDescription", "longDescription", "features"],
    "properties": {
        "shortDescription": {"type": "string", "minLength": 1, "maxLength": 150},
        "longDescription": {"type": "string", "minLength": 150, "maxLength": 10000},
        "features": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 100}},
        "documentation": {"type": "string", "format": "uri"},
        "apiDocumentation": {"type": "string", "format": "uri"},
        "screenshots": {"type": "array", "items": STRING},
        "videos": {"type": "array", "items": STRING},
        "awards": {"type": "array", "items": STRING},
        "localisedName": STRING,
        "genericName": STRING,
    },
    "additionalProperties": False,
}
DEPENDENCY = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": STRING,
        "versionMin": STRING,
        "versionMax": STRING,
        "version": STRING,
        "optional": {"type": "boolean"},
    },
    "additionalProperties": False,
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "publiccodeYmlVersion",
        "name",
        "url",
        "platforms",
        "developmentStatus",
        "softwareType",
        "description",
        "legal",
        "maintenance",
        "localisation",
    ],
    "properties": {
        "publiccodeYmlVersion": {"enum": ["0.2", "0.3", "0.4"]},
        "name": STRING,
        "url": {"type": "string", "pattern": "^https://"},
        "landingURL": {"type": "string", "pattern": "^https://"},
        "softwareVersion": STRING,
        "releaseDate": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "platforms": {"type": "array", "minItems": 1, "items": STRING},
        "categories": {"type": "array", "items": STRING},
        "developmentStatus": {"enum": ["concept", "development", "beta", "stable", "obsolete"]},
        "softwareType": {
            "enum": [
                "standalone/mobile",
                "standalone/iot",
                "standalone/desktop",
                "standalone/web",
                "standalone/backend",
                "standalone/other",
                "addon",
                "library",
                "configurationFiles",
            ]
        },
        "organisation": {
            "type": "object",
            "required": ["uri"],
            "properties": {"uri": STRING, "name": STRING},
            "additionalProperties": False,
        },
        "description": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z]{2,3}(-[A-Za-z0-9]+)*$"},
            "additionalProperties": LANGUAGE_DESCRIPTION,
        },
        "legal": {
            "type": "object",
            "required": ["license"],
            "properties": {
                "license": STRING,
                "mainCopyrightOwner": STRING,
                "repoOwner": STRING,
                "authorsFile": STRING,
            },
            "additionalProperties": False,
        },
        "maintenance": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["internal", "contract", "community", "none"]},
                "contractors": {"type": "array"},
                "contacts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": STRING,
                            "email": STRING,
                            "phone": STRING,
                            "affiliation": STRING,
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
            # internal or community maintenance names the people who maintain it
            "if": {"properties": {"type": {"enum": ["internal", "community"]}}},
            "then": {"required": ["contacts"], "properties": {"contacts": {"minItems": 1}}},
        },
        "localisation": {
            "type": "object",
            "required": ["localisationReady", "availableLanguages"],
            "properties": {
                "localisationReady": {"type": "boolean"},
                "availableLanguages": {"type": "array", "minItems": 1, "items": STRING},
            },
            "additionalProperties": False,
        },
        "dependsOn": {
            "type": "object",
            "properties": {
                key: {"type": "array", "items": DEPENDENCY}
                for key in ("open", "proprietary", "hardware")
            },
            "additionalProperties": False,
        },
        "intendedAudience": {"type": "object"},
        "it": {
            "type": "object",
            "required": ["countryExtensionVersion"],
            "properties": {
                "countryExtensionVersion": {"enum": ["0.2", "1.0"]},
                "conforme": {"type": "object"},
                "riuso": {"type": "object"},
                "piattaforme": {
                    "type": "object",
                    "properties": {
                        key: {"type": "boolean"} for key in ("spid", "cie", "anpr", "pagopa", "io")
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def publiccode() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "publiccode.yml").read_text(encoding="utf-8"))


def test_publiccode_validates_against_the_standard(publiccode: dict[str, Any]) -> None:
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in jsonschema_rs.validator_for(SCHEMA).iter_errors(publiccode)
    ]
    assert errors == []


def test_publiccode_tells_the_catalogue_what_the_platform_does(publiccode: dict) -> None:
    assert set(publiccode["description"]) == {"it", "en"}
    assert publiccode["it"]["piattaforme"] == {
        "spid": True,
        "cie": True,
        "pagopa": False,
        "anpr": False,
    }
    assert publiccode["legal"]["license"] == "Apache-2.0"
    assert set(publiccode["localisation"]["availableLanguages"]) == {"it", "en"}


def test_the_schema_refuses_an_incomplete_file(publiccode: dict[str, Any]) -> None:
    broken = {**publiccode, "developmentStatus": "finished"}
    del broken["maintenance"]
    messages = [e.message for e in jsonschema_rs.validator_for(SCHEMA).iter_errors(broken)]
    assert any("maintenance" in m for m in messages)
    assert any("finished" in m for m in messages)
