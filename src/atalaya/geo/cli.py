"""``atalaya areas``: load municipalities and other areas from data files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import track

from atalaya.audit import service as audit
from atalaya.clitools import cli_context, reports_errors, runtime, unit_of_work
from atalaya.geo.service import load_areas, read_area_file

areas = typer.Typer(help="Countries, subdivisions and municipalities.")


@areas.command("load")
@reports_errors
def load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Area CSV file.")],
) -> None:
    """Load areas from a CSV file (columns: code, level, parent, name, name_en, name_es,
    name_pt, name_fr, national_codes). All or nothing; loading twice changes nothing."""
    rows = read_area_file(path.read_text(encoding="utf-8"))
    rt = runtime()
    with unit_of_work(rt) as session:
        changed = load_areas(session, track(rows, description="Loading areas"))
        audit.record(
            session,
            cli_context(),
            "area.load",
            object_type="area",
            object_id=path.name,
            detail={"rows": len(rows), "changed": changed},
        )
    typer.echo(f"{len(rows)} areas read, {changed} changes")
