"""`python -m bench [--quick] [--only SECTION ...]`: the benchmark table, JSON, and `results: <path>`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback

from bench import areas, catchup, dashboard, endtoend, intake, messaging, profile, review, system
from bench.report import Report
from tests.support import LOCAL_DATABASE_URL, LOCAL_KAFKA

SECTIONS = {
    "messaging": messaging.run,
    "intake": intake.run,
    "end-to-end": endtoend.run,
    "dashboard": dashboard.run,
    "area-review": review.run,
    "profile": profile.run,
    "neighbourhoods": areas.run,
    # last: the backlog it leaves (deliveries not yet sent) must not weigh on the other figures
    "catch-up": catchup.run,
    "rss": profile.rss,
}


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    report = Report()
    failed: list[str] = []
    try:
        for name, section in SECTIONS.items():
            if args.only and name not in args.only:
                continue
            print(f"[bench] {name} ...", flush=True)
            try:
                await section(report, database_url, bootstrap, quick=args.quick)
            except Exception:  # one broken section must not cost the figures of the others
                traceback.print_exc()
                failed.append(name)
    finally:
        await system.close()  # the platform the sections shared: processes, schemas, database
    print()
    print(report.table())
    path = report.write()
    if failed:
        print(f"[bench] FAILED sections: {', '.join(failed)}")
    print(f"results: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
