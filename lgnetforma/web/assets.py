"""Static assets: URLs carry a hash of the file's content, so browsers and proxies may keep
them for a year; a changed file gets a new URL. Pages and text assets (HTML, CSS, JS, SVG,
JSON) leave compressed with Brotli or gzip (Flask-Compress)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

VERSIONED_MAX_AGE = 365 * 24 * 3600
UNVERSIONED_MAX_AGE = 3600  # what a stylesheet asks for by relative URL (fonts, images)


def init_app(app: Flask) -> None:
    from lgnetforma.extensions import compress

    compress.init_app(app)
    root = Path(app.static_folder or "static")
    hashes: dict[tuple[str, int, int], str] = {}

    def version(filename: str) -> str | None:
        try:
            stat = (root / filename).stat()
        except OSError:
            return None
        key = (filename, stat.st_mtime_ns, stat.st_size)  # a file edited in place is seen
        if key not in hashes:
            hashes[key] = hashlib.sha256((root / filename).read_bytes()).hexdigest()[:12]
        return hashes[key]

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and "filename" in values:
            found = version(values["filename"])
            if found is not None:
                values["v"] = found

    @app.after_request
    def _cache(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            response.cache_control.public = True
            response.cache_control.no_cache = None
            if request.args.get("v"):
                response.cache_control.max_age = VERSIONED_MAX_AGE
                response.cache_control.immutable = True
            else:
                response.cache_control.max_age = UNVERSIONED_MAX_AGE
        return response
