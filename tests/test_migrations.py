"""The migrations build the same schema on SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from lgnetforma.extensions import db
from tests.helpers import _pg_url


def _schema(url: str) -> dict:
    engine = create_engine(url)
    inspector = inspect(engine)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        schema[table] = {
            "columns": sorted(
                (c["name"], c["nullable"], type(c["type"]).__visit_name__.lower())
                for c in inspector.get_columns(table)
            ),
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")  # PostgreSQL's index behind a UNIQUE
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
        }
    engine.dispose()
    return schema


# Type names as each dialect reports them, folded to one family.
TYPE_FAMILIES = {
    "varchar": "string",
    "string": "string",
    "text": "text",
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "datetime",
    "float": "float",
    "double_precision": "float",
    "real": "float",
    "json": "json",
    "blob": "binary",
    "bytea": "binary",
    "largebinary": "binary",
    "_binary": "binary",
}


def _normalise(schema: dict) -> dict:
    for table in schema.values():
        table["columns"] = [
            (name, nullable, TYPE_FAMILIES.get(kind, kind))
            for name, nullable, kind in table["columns"]
        ]
    return schema


def test_sqlite_and_postgresql_get_the_same_tables(sqlite_template, postgres_template):
    sqlite = _normalise(_schema(f"sqlite:///{sqlite_template}"))
    postgres = _normalise(_schema(_pg_url(postgres_template)))
    assert sqlite.keys() == postgres.keys()
    for table in sqlite:
        assert sqlite[table] == postgres[table], table


def test_models_and_migrations_agree(app, backend):
    """No change is waiting to be written as a migration."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from the migrations on {backend}: {diff}"
