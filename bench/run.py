"""LGNetforma load benchmark: the app under gunicorn in production mode, on SQLite and on
PostgreSQL with a national dataset, driven on loopback at fixed concurrency.

    python bench/run.py [--operators 50000] [--duration 10] [--concurrency 16]

Prints a Markdown table and writes bench/results/latest.json. Every endpoint's requests/s
is compared with the "ceiling": a plain-text route of the same app and server that touches
no database, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-key-" + "x" * 32
QUIZ_POOL = 40_000  # open attempts prepared for the quiz-submission run
WORKER_PEAKS: dict[str, list[float]] = {}  # database -> peak RSS (MB) of each worker
ENDPOINTS = (
    "module_page",
    "quiz_submit",
    "dashboard_national",
    "dashboard_regional",
    "api_completion",
    "csv_export",
)


@dataclass
class Run:
    database: str
    endpoint: str
    requests: int = 0
    errors: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    ratio_to_ceiling: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "database": self.database,
            "endpoint": self.endpoint,
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "ratio_to_ceiling": None
            if self.ratio_to_ceiling is None
            else round(self.ratio_to_ceiling, 3),
        }
        data.update(self.extra)
        return data


# --- the database ----------------------------------------------------------------------


def database_url(kind: str, operators: int) -> str:
    if kind == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DATA / f'bench-{operators}.sqlite'}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/lgnetforma_bench_{operators}"


def prepare_database(kind: str, operators: int) -> str:
    """Schema, comuni, courses and the synthetic operators; reused when already there."""
    url = database_url(kind, operators)
    if kind == "postgresql":
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    from lgnetforma import create_app
    from lgnetforma.extensions import db
    from lgnetforma.models import User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        have = db.session.scalar(db.select(db.func.count(User.id)).where(User.role == "operator"))
        if have >= operators:
            print(f"[{kind}] reusing the dataset: {have} operators", flush=True)
        else:
            from lgnetforma.dev.synthetic import seed_synthetic
            from lgnetforma.services.catalogue.courses import import_directory
            from lgnetforma.services.coordination.registry import import_comuni
            from lgnetforma.services.platform.cycles import current_cycle

            import_comuni(cycle=current_cycle())
            import_directory(ROOT / "courses")
            started = time.perf_counter()
            report = seed_synthetic(operators - have, seed=42, cycle=current_cycle())
            print(
                f"[{kind}] seeded {report.operators} operators, {report.attempts} attempts "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        db.session.remove()
        db.engine.dispose()
    return url


@dataclass
class Fixtures:
    module_path: str
    operator_cookies: list[str]
    admin_cookie: str
    regional_cookie: str
    quiz: list[tuple[str, str, str]]  # (cookie, csrf token, form body path)
    quiz_form: dict[str, Any]
    api_token: str
    export_rows: int


def prepare_fixtures(url: str) -> Fixtures:
    """Sessions for operators and coordinators (signed with the bench's secret key, as a
    login would make them), open quiz attempts, and an API token."""
    from itsdangerous import URLSafeTimedSerializer
    from sqlalchemy import func, select

    from lgnetforma import create_app
    from lgnetforma.content import Quiz
    from lgnetforma.extensions import db
    from lgnetforma.models import (
        Comune,
        Course,
        Enrolment,
        Module,
        ModuleVersion,
        QuizAttempt,
        Region,
        User,
    )
    from lgnetforma.services.people.accounts import create_user, user_by_email
    from lgnetforma.services.platform.cycles import current_cycle

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    signer = app.session_interface.get_signing_serializer(app)
    csrf_signer = URLSafeTimedSerializer(SECRET, salt="wtf-csrf-token")

    def session_for(user: User) -> tuple[str, str]:
        raw = secrets.token_hex(20)
        cookie = signer.dumps({"_user_id": user.get_id(), "_fresh": True, "csrf_token": raw})
        return f"session={cookie}", csrf_signer.dumps(raw)

    with app.app_context():
        cycle = current_cycle()
        # A quiz module of a published course, and operators enrolled in that course.
        module = db.session.scalar(
            select(Module)
            .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
            .join(Course, Course.id == Module.course_id)
            .where(ModuleVersion.quiz.is_not(None), Course.is_published.is_(True))
            .order_by(Module.id)
            .limit(1)
        )
        course = module.course
        quiz = Quiz.from_dict(module.current_version.quiz)
        enrolled = db.session.scalars(
            select(User)
            .join(Enrolment, Enrolment.user_id == User.id)
            .where(Enrolment.course_id == course.id, Enrolment.cycle_id == cycle.id)
            .order_by(User.id)
            .limit(QUIZ_POOL)
        ).all()
        operator_cookies = [session_for(u)[0] for u in enrolled[:200]]

        # Open attempts for the submission run: one per operator, the next number free.
        numbers = dict(
            db.session.execute(
                select(QuizAttempt.user_id, func.max(QuizAttempt.number))
                .where(QuizAttempt.module_id == module.id, QuizAttempt.cycle_id == cycle.id)
                .group_by(QuizAttempt.user_id)
            ).all()
        )
        rows, quiz_pool = [], []
        for user in enrolled:
            public_id = "bench-" + secrets.token_hex(12)
            rows.append(
                {
                    "public_id": public_id,
                    "user_id": user.id,
                    "module_id": module.id,
                    "module_version_id": module.current_version_id,
                    "cycle_id": cycle.id,
                    "number": numbers.get(user.id, 0) + 1,
                    "started_at": datetime.now(UTC),
                }
            )
            cookie, token = session_for(user)
            quiz_pool.append((cookie, token, f"/tentativi/{public_id}"))
        db.session.execute(QuizAttempt.__table__.insert(), rows)
        quiz_form: dict[str, Any] = {}
        for question in quiz.questions:
            if question.kind == "short":
                quiz_form[f"q{question.number}"] = question.answers[0]
            else:
                quiz_form[f"q{question.number}"] = (
                    [o.key for o in question.options if o.correct]
                    if question.kind == "multiple"
                    else next(o.key for o in question.options if o.correct)
                )

        admin = user_by_email("bench-admin@lgnetforma.invalid") or create_user(
            email="bench-admin@lgnetforma.invalid",
            full_name="Bench Admin",
            role="admin",
            password=None,  # never logs in: the benchmark signs its session
        )
        lazio = db.session.scalar(select(Region).filter_by(code="12"))
        regional = user_by_email("bench-lazio@lgnetforma.invalid") or create_user(
            email="bench-lazio@lgnetforma.invalid",
            full_name="Bench Lazio",
            role="coordinator",
            password=None,
            scope_region=lazio,
        )
        db.session.commit()
        api_token = ""
        try:
            from lgnetforma.services.people.tokens import create_token

            _, api_token = create_token(admin, "bench")
            db.session.commit()
        except ImportError:
            pass
        export_rows = db.session.scalar(
            select(func.count(Enrolment.id))
            .join(User, User.id == Enrolment.user_id)
            .join(Comune, Comune.id == User.comune_id)
            .where(Enrolment.cycle_id == cycle.id)
        )
        fixtures = Fixtures(
            module_path=f"/corsi/{course.slug}/{module.slug}",
            operator_cookies=operator_cookies,
            admin_cookie=session_for(admin)[0],
            regional_cookie=session_for(regional)[0],
            quiz=quiz_pool,
            quiz_form=quiz_form,
            api_token=api_token,
            export_rows=export_rows,
        )
        db.session.remove()
        db.engine.dispose()
    return fixtures


# --- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "LGNETFORMA_ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": url,
        "LGNETFORMA_ALLOW_SQLITE": "1",
        "LGNETFORMA_RATELIMIT": "0",  # the benchmark is one client hammering on purpose
    }
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--access-logfile",
            "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
            "lgnetforma:create_app()",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                break
        except OSError:
            time.sleep(0.2)
    time.sleep(1.0)  # let every worker boot
    return process, base


def worker_pids(master: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


# --- the load --------------------------------------------------------------------------


async def load(
    base: str,
    make_request,  # noqa: ANN001 - (session, index) -> awaitable status
    *,
    concurrency: int,
    duration: float,
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                index = next(counter)
                started = time.perf_counter()
                try:
                    status = await make_request(session, index)
                except (TimeoutError, aiohttp.ClientError):
                    status = 599
                latencies.append((time.perf_counter() - started) * 1000)
                if not 200 <= status < 400:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def measure(database: str, endpoint: str, base: str, make_request, args: argparse.Namespace) -> Run:  # noqa: ANN001
    # A short warm-up so each worker has its connections and caches.
    asyncio.run(load(base, make_request, concurrency=args.concurrency, duration=1.0))
    latencies, errors, elapsed = asyncio.run(
        load(base, make_request, concurrency=args.concurrency, duration=args.duration)
    )
    ordered = sorted(latencies)
    return Run(
        database=database,
        endpoint=endpoint,
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / elapsed,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    )


def get(path: str, headers: dict[str, str] | None = None):  # noqa: ANN201
    async def request(session: aiohttp.ClientSession, index: int) -> int:
        async with session.get(path, headers=headers, allow_redirects=False) as response:
            await response.read()
            return response.status

    return request


def bench_database(database: str, args: argparse.Namespace) -> list[Run]:
    url = prepare_database(database, args.operators)
    fixtures = prepare_fixtures(url)
    server, base = start_server(url, args.workers)
    runs: list[Run] = []
    try:
        runs.append(measure(database, "ceiling", base, get("/healthz"), args))

        async def module_page(session: aiohttp.ClientSession, index: int) -> int:
            cookie = fixtures.operator_cookies[index % len(fixtures.operator_cookies)]
            async with session.get(fixtures.module_path, headers={"Cookie": cookie}) as response:
                await response.read()
                return response.status

        wanted = args.endpoints
        if "module_page" in wanted:
            runs.append(measure(database, "module_page", base, module_page, args))

        async def quiz_submit(session: aiohttp.ClientSession, index: int) -> int:
            if index >= len(fixtures.quiz):
                return 599  # pool exhausted: counted as an error, raise QUIZ_POOL
            cookie, token, path = fixtures.quiz[index]
            form = aiohttp.FormData()
            form.add_field("csrf_token", token)
            for name, value in fixtures.quiz_form.items():
                for item in value if isinstance(value, list) else [value]:
                    form.add_field(name, item)
            async with session.post(
                path, data=form, headers={"Cookie": cookie}, allow_redirects=False
            ) as response:
                await response.read()
                return response.status

        if "quiz_submit" in wanted:
            runs.append(measure(database, "quiz_submit", base, quiz_submit, args))
        dashboards = {
            "dashboard_national": fixtures.admin_cookie,
            "dashboard_regional": fixtures.regional_cookie,
        }
        for endpoint, cookie in dashboards.items():
            if endpoint in wanted:
                page = get("/coordinamento/monitoraggio", {"Cookie": cookie})
                runs.append(measure(database, endpoint, base, page, args))
        if "api_completion" in wanted:
            runs.append(
                measure(
                    database,
                    "api_completion",
                    base,
                    get(
                        "/api/v1/reports/completion?group_by=region",
                        {"Authorization": f"Bearer {fixtures.api_token}"},
                    ),
                    args,
                )
            )
        if "csv_export" in wanted:
            runs.append(export_run(database, base, fixtures, server))
        # Each worker's high-water mark over the whole run of this database.
        WORKER_PEAKS[database] = [round(peak_rss_mb(pid), 1) for pid in worker_pids(server)]
    finally:
        stop_server(server)
    ceiling = runs[0].rps
    for run in runs[1:]:
        if run.endpoint != "csv_export":
            run.ratio_to_ceiling = run.rps / ceiling if ceiling else None
    return runs


def export_run(database: str, base: str, fixtures: Fixtures, server: subprocess.Popen) -> Run:
    """One export of every operator's row: time, rows, and the workers' peak memory."""

    async def fetch() -> tuple[int, int, float]:
        started = time.perf_counter()
        lines = 0
        timeout = aiohttp.ClientTimeout(total=300)
        async with (
            aiohttp.ClientSession(base, timeout=timeout) as session,
            session.get(
                "/coordinamento/esporta/operatori.csv", headers={"Cookie": fixtures.admin_cookie}
            ) as response,
        ):
            async for chunk in response.content.iter_chunked(64 * 1024):
                lines += chunk.count(b"\r\n")
            return response.status, lines, time.perf_counter() - started

    status, lines, seconds = asyncio.run(fetch())
    peak = max((peak_rss_mb(pid) for pid in worker_pids(server)), default=0.0)
    return Run(
        database=database,
        endpoint="csv_export",
        requests=1,
        errors=0 if status == 200 else 1,
        rps=1 / seconds,
        p50_ms=seconds * 1000,
        p99_ms=seconds * 1000,
        extra={"rows": lines - 1, "seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1)},
    )


def markdown(runs: list[Run]) -> str:
    lines = [
        "| database | endpoint | requests | errors | req/s | p50 ms | p99 ms | ratio to ceiling |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        ratio = "" if run.ratio_to_ceiling is None else f"{run.ratio_to_ceiling:.0%}"
        name = run.endpoint
        if run.endpoint == "csv_export":
            name += (
                f" ({run.extra['rows']} rows, {run.extra['seconds']} s, "
                f"peak RSS {run.extra['peak_rss_mb']} MB)"
            )
        lines.append(
            f"| {run.database} | {name} | {run.requests} | {run.errors} | {run.rps:.1f} | "
            f"{run.p50_ms:.1f} | {run.p99_ms:.1f} | {ratio} |"
        )
    lines.append("")
    for database, peaks in WORKER_PEAKS.items():
        listed = ", ".join(f"{p:.0f}" for p in sorted(peaks))
        lines.append(f"Peak RSS per worker, {database}: {listed} MB.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operators", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="a subset, for tuning: results are then printed but not written",
    )
    args = parser.parse_args()
    args.endpoints = [e.strip() for e in args.endpoints.split(",")]
    if unknown := set(args.endpoints) - set(ENDPOINTS):
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    runs: list[Run] = []
    for database in args.databases.split(","):
        runs.extend(bench_database(database.strip(), args))
    table = markdown(runs)
    print(table)
    if args.endpoints != list(ENDPOINTS):
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "operators": args.operators,
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "workers": args.workers,
        },
        "runs": [run.as_dict() for run in runs],
        "workers": [
            {"database": database, "peak_rss_mb": peaks} for database, peaks in WORKER_PEAKS.items()
        ],
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
