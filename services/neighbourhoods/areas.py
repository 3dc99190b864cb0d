"""`python -m services.neighbourhoods.areas load <file> [--year N]`: load a CBS wijk- en buurtkaart
(GeoPackage or GeoJSON) into the neighbourhoods schema: names, hierarchy, year and, where PostGIS
is installed, boundaries. A reload replaces the areas of the file's municipalities."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from services.neighbourhoods import kaart
from services.neighbourhoods.app import MIGRATIONS, Settings
from services.neighbourhoods.store import areas as area_store
from services.neighbourhoods.store.geo import postgis_schema
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database

DEMO_FILE = Path(__file__).parent / "data" / "cbs-2014-GM0479.geojson"


async def load_file(
    settings: Settings,
    path: Path,
    *,
    year: int | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    unless_loaded: bool = False,
) -> int:
    """Load the file's areas (migrating the schema first); the number of areas loaded (0 when
    `unless_loaded` and the file's municipalities have areas already)."""
    say = progress or (lambda _: None)
    found = kaart.read(path, year)
    skipped = f" ({found.skipped} rows without a CBS code skipped)" if found.skipped else ""
    say(f"{path.name}: {len(found.records)} areas{skipped}")
    db = Database(settings.database_url, settings.db_schema_name, pool_size=1)
    try:
        await db.migrate(MIGRATIONS)
        async with db.sessions() as session, session.begin():
            municipalities = sorted({r.municipality for r in found.records})
            if unless_loaded and await area_store.any_loaded(session, municipalities):
                say(f"areas of {', '.join(municipalities)} are loaded already: nothing changed")
                return 0
            total = len(found.records)
            count = await area_store.replace(
                session, found.records, clock.now(), lambda done: say(f"  {done}/{total} areas written")
            )
            boundaries = await postgis_schema(session) is not None
        say(f"loaded {count} areas" + ("" if boundaries else "; PostGIS is not installed: names and hierarchy only"))
        return count
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.neighbourhoods.areas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="load a wijk- en buurtkaart (GeoPackage or GeoJSON)")
    load.add_argument("file", type=Path)
    load.add_argument("--year", type=int, default=None, help="the kaart's year when its rows do not say it")
    load.add_argument(
        "--unless-loaded", action="store_true", help="change nothing when the file's municipalities have areas"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(load_file(Settings(), args.file, year=args.year, progress=print, unless_loaded=args.unless_loaded))
    except (OSError, kaart.UnreadableKaart) as exc:
        sys.exit(f"cannot load {args.file}: {exc}")


if __name__ == "__main__":
    main()
