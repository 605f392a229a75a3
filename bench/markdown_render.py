"""Markdown rendering benchmark: adversarial shapes at the 200,000-character limit.

    make bench-markdown     (or: python bench/markdown_render.py [--limit S] [--only NAME])

Renders each shape of ``lgnetforma.content.adversarial.SHAPES`` through the
validator (``parse_module_text``: render, sanitise, check) and prints its time. Exits 1
when a shape takes longer than the limit (2 s by default), so it can gate a release;
it is not a unit test (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lgnetforma.content import parse_module_text  # noqa: E402
from lgnetforma.content.adversarial import SHAPES, adversarial_module  # noqa: E402


class _GaveUp(BaseException):
    pass


def _give_up(*_: object) -> None:
    raise _GaveUp


def main() -> int:
    signal.signal(signal.SIGALRM, _give_up)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=2.0, help="seconds allowed per shape")
    parser.add_argument("--only", help="run only the shapes whose name contains this")
    parser.add_argument(
        "--give-up", type=float, default=30.0, help="stop a shape after this many seconds"
    )
    args = parser.parse_args()
    slow = 0
    print(f"{'shape':<28} {'chars':>8} {'seconds':>8}  problems")
    for name in SHAPES:
        if args.only and args.only not in name:
            continue
        text = adversarial_module(name)
        signal.setitimer(signal.ITIMER_REAL, args.give_up)
        start = time.perf_counter()
        try:
            _, problems = parse_module_text("01-modulo.md", text, media=())
            count = str(len(problems))
        except _GaveUp:
            count = "-"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - start
        flag = "" if elapsed < args.limit else "  TOO SLOW"
        slow += bool(flag)
        print(f"{name:<28} {len(text):>8} {elapsed:>8.3f}  {count}{flag}", flush=True)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
