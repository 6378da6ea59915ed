"""The benchmark: `python scripts/bench.py [--quick] [--json PATH]`, also `dossier bench`.

Generates a synthetic school, measures the raw floors and the service on SQLite and on
PostgreSQL, prints a table and checks the targets (on SQLite) as ratios measured in one run.
"""

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import psycopg
from rich.console import Console
from rich.table import Table

from projections.cores import usable_cores
from projections.runtime import open_services
from projections.storage import is_postgres, library_env
from scripts import measure

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "floor_events": 3000, "raw_rows": 100_000, "service_events": 2000, "clients": 8,
        "per_client": 150, "http_rounds": 5, "pupil_events": 1000,
        "sizes": (10_000, 100_000, 1_000_000), "repeats": 200, "warm_repeats": 1000,
    },
    "quick": {
        "floor_events": 300, "raw_rows": 10_000, "service_events": 200, "clients": 4,
        "per_client": 25, "http_rounds": 3, "pupil_events": 300, "sizes": (2_000, 5_000, 10_000),
        "repeats": 15, "warm_repeats": 50,
    },
}  # fmt: skip
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/dossier_bench"
console = Console()


def run_backend(db: str, floor_env: dict[str, str], profile: dict[str, Any]) -> dict[str, Any]:
    step = progress(db)
    found: dict[str, Any] = {}

    def floor() -> float:
        return measure.library_floor(floor_env, profile["floor_events"])

    step("library floor")
    found["library_floor_per_s"] = floor()
    services = open_services(db)
    try:
        actor, token = measure.coach(services)
        step("raw floor")
        found |= measure.raw_floor(services, profile["raw_rows"])
        pupil = {"name": "Bench", "sector": "vmbo", "grade": 3, "school_year": "2024-2025"}
        pupils = [
            services.dossiers.open_dossier(actor, pupil).id for _ in range(profile["clients"])
        ]
        step("service appends")
        found["service_append_per_s"] = measure.service_appends(
            services, actor, pupils, profile["service_events"]
        )
        step("HTTP appends")
        found["http"] = measure.http_appends(
            db,
            token,
            [str(p) for p in pupils],
            profile["per_client"],
            profile["workers"],
            floor=floor,
            rounds=profile["http_rounds"],
        )
        found["http"]["workers"] = profile["workers"]
        found["reads"], pupil = read_scaling(db, services, actor, profile, step)
        step("export and import")
        found["transfer"] = measure.transfer(services, pupil)
        step("rebuild")
        found["rebuild"] = measure.rebuild(services, db)
        step("audit")
        found["audit"] = measure.audit(services, actor)
    finally:
        services.close()
    return found


def read_scaling(
    db: str, services: Any, actor: Any, profile: dict[str, Any], step: Callable[[str], None]
) -> tuple[dict[str, Any], Any]:
    """Reads of one large dossier in stores of growing size: the largest is `services`,
    each smaller one a store of its own beside it holding the same pupil, so that all
    are read in turn (see `measure.reads`). Answers the pupil's id in the largest."""
    *smaller, largest = profile["sizes"]
    others = [open_services(sibling(db, size)) for size in smaller]
    try:
        stores = []
        for size, store in [*zip(smaller, others, strict=True), (largest, services)]:
            step(f"store of {size:,} events")
            reader = actor if store is services else measure.coach(store)[0]
            pupil = measure.add_pupil(store, profile["pupil_events"])
            missing = size - store.follower.head()
            if missing > 0:
                measure.fill(store, missing, seed=size)
            stores.append((store, reader, pupil))
        step("reads, every store in turn")
        measured = measure.reads(stores, profile["warm_repeats"], profile["repeats"])
        found = {
            str(size): {"events": store.follower.head(), **values}
            for size, (store, _, _), values in zip(profile["sizes"], stores, measured, strict=True)
        }
    finally:
        for other in others:
            other.close()
    found[str(largest)] |= measure.reads_after_write(services, actor, pupil, profile["repeats"])
    return found, pupil


def sibling(db: str, size: int) -> str:
    """Another store beside `db`: an SQLite file next to it, or a PostgreSQL database."""
    if not is_postgres(db):
        return db.replace(".sqlite", f"-{size}.sqlite")
    return fresh_postgres(f"{db}_{size}")


def progress(db: str) -> Callable[[str], None]:
    started = time.perf_counter()

    def step(what: str) -> None:
        console.log(f"[{backend_name(db)}] {what} (at {time.perf_counter() - started:.0f} s)")

    return step


def backend_name(db: str) -> str:
    return "postgres" if is_postgres(db) else "sqlite"


def fresh_postgres(url: str) -> str:
    """An empty dedicated database for the benchmark (created when missing)."""
    name = urlparse(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


def ratios(found: dict[str, Any]) -> dict[str, float]:
    floor = found["library_floor_per_s"]
    sizes = list(found["reads"])
    small, large = found["reads"][sizes[0]], found["reads"][sizes[-1]]
    return {
        "service_append / library floor": found["service_append_per_s"] / floor,
        "http_append / library floor": found["http"]["ratio"],
        "timeline p95 largest / smallest store": large["timeline_p95_ms"]
        / small["timeline_p95_ms"],
        "story p95 largest / smallest store": large["story_p95_ms"] / small["story_p95_ms"],
        "timeline p95 / plain select p95": large["timeline_p95_ms"] / large["select_p95_ms"],
        "story p95 / plain select p95": large["story_p95_ms"] / large["select_p95_ms"],
        "rebuild / raw log read": found["rebuild"]["rebuild_per_s"]
        / found["rebuild"]["log_read_per_s"],
    }


TARGETS = {
    "http_append / library floor": (">=", 0.25),
    "timeline p95 largest / smallest store": ("<=", 1.25),
    "story p95 largest / smallest store": ("<=", 1.25),
    "timeline p95 / plain select p95": ("<=", 3.0),
    "story p95 / plain select p95": ("<=", 3.0),
    "rebuild / raw log read": (">=", 0.25),
}


def report(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    found = {n: ratios(results[n]) for n in names}
    table = Table("measure", *names, title="Loopbaandossier benchmark")
    for label, get in ROWS:
        table.add_row(label, *(f"{get(results[n]):,.1f}" for n in names))
    for label in found[names[0]]:
        target = TARGETS.get(label)
        row = [f"{found[n][label]:.2f}" for n in names]
        table.add_row(f"{label}" + (f"  (target {target[0]} {target[1]})" if target else ""), *row)
    console.print(table)
    if "sqlite" in found:
        verdicts(found["sqlite"])


def verdicts(found: dict[str, float]) -> None:
    for label, (op, bound) in TARGETS.items():
        held = found[label] >= bound if op == ">=" else found[label] <= bound
        console.print(
            f"{'held ' if held else 'MISSED'}  SQLite {label} = {found[label]:.2f} ({op} {bound})"
        )


def _read(name: str) -> Callable[[dict[str, Any]], float]:
    def get(found: dict[str, Any]) -> float:
        sizes = list(found["reads"])
        size = sizes[0] if name.endswith("@small") else sizes[-1]
        return float(found["reads"][size][name.split("@")[0]])

    return get


ROWS: list[tuple[str, Callable[[dict[str, Any]], float]]] = [
    ("library floor, single-event saves (events/s)", lambda f: f["library_floor_per_s"]),
    ("raw INSERT, 5,000 rows/txn (rows/s)", lambda f: f["raw_insert_per_s"]),
    ("raw SELECT, 500 rows/query (rows/s)", lambda f: f["raw_select_per_s"]),
    ("service appends (events/s)", lambda f: f["service_append_per_s"]),
    ("HTTP server processes (dossier serve --workers)", lambda f: f["http"]["workers"]),
    ("HTTP rounds, each after a library floor of its own", lambda f: len(f["http"]["rounds"])),
    ("library floor before each HTTP round, median (events/s)", lambda f: f["http"]["floor_per_s"]),
    ("HTTP appends, median round (requests/s)", lambda f: f["http"]["requests_per_s"]),
    ("HTTP append p50 (ms)", lambda f: f["http"]["p50"]),
    ("HTTP append p95 (ms)", lambda f: f["http"]["p95"]),
    ("HTTP append p99 (ms)", lambda f: f["http"]["p99"]),
    (
        "cores probe before each HTTP round, median (ms; lower is faster)",
        lambda f: f["http"]["cores_probe_before_ms"],
    ),
    ("timeline p95, smallest store (ms)", _read("timeline_p95_ms@small")),
    ("timeline p95, largest store (ms)", _read("timeline_p95_ms@large")),
    ("story p95, smallest store (ms)", _read("story_p95_ms@small")),
    ("story p95, largest store (ms)", _read("story_p95_ms@large")),
    (
        "timeline p95 first read after a write, largest (ms)",
        _read("timeline_after_write_p95_ms@large"),
    ),
    ("story p95 first read after a write, largest (ms)", _read("story_after_write_p95_ms@large")),
    (
        "timeline p95 nothing remembered (restart), largest (ms)",
        _read("timeline_cold_p95_ms@large"),
    ),
    ("story p95 nothing remembered (restart), largest (ms)", _read("story_cold_p95_ms@large")),
    ("plain SELECT of the pupil's rows p95, largest (ms)", _read("select_p95_ms@large")),
    ("largest store (events)", _read("events@large")),
    ("export of the large dossier (ms)", lambda f: f["transfer"]["export_ms"]),
    ("import of the large dossier (ms)", lambda f: f["transfer"]["import_ms"]),
    (
        "raw notification log read, fastest of before/between/after the rebuilds (events/s)",
        lambda f: f["rebuild"]["log_read_per_s"],
    ),
    ("projection rebuild, faster of two (events/s)", lambda f: f["rebuild"]["rebuild_per_s"]),
    ("rebuild helper processes", lambda f: f["rebuild"].get("helpers", 0)),
    ("audit rows of the school (experiences)", lambda f: f["audit"]["rows"]),
    ("audit of the school, all facts stale (ms)", lambda f: f["audit"]["school_stale_ms"]),
    ("refresh of all audit facts after the rebuild (s)", lambda f: f["audit"]["refresh_s"]),
    ("audit of the school, facts kept, p50 (ms)", lambda f: f["audit"]["school_p50_ms"]),
    ("audit of one month, facts kept, p50 (ms)", lambda f: f["audit"]["month_p50_ms"]),
]


@click.command()
@click.option("--quick", is_flag=True, help="A small run of every measurement (for CI).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--backend", type=click.Choice(["both", "sqlite", "postgres"]), default="both")
@click.option("--postgres", "postgres_url", default=DEFAULT_POSTGRES, show_default=True,
              help="A database the benchmark may empty.")  # fmt: skip
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=usable_cores,  # called at start: a container's CPU quota counts, as for helpers
    show_default="one per usable core",
    help="Server processes for the HTTP appends.",
)
def main(
    quick: bool, json_path: Path | None, backend: str, postgres_url: str, workers: int
) -> None:
    """Measure the service against the raw floors and print the ratios."""
    profile = {**PROFILES["quick" if quick else "full"], "workers": workers}
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as work:
        if backend in ("both", "sqlite"):
            floor = {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": f"{work}/floor.sqlite",
            }
            results["sqlite"] = run_backend(f"{work}/bench.sqlite", floor, profile)
        if backend in ("both", "postgres"):
            url = fresh_postgres(postgres_url)
            # The bare library: its own factory, not ours (projections.storage).
            floor = {**library_env(url), "PERSISTENCE_MODULE": "eventsourcing.postgres"}
            results["postgres"] = run_backend(url, floor, profile)
    report(results)
    if json_path:
        data = {"profile": "quick" if quick else "full", "results": results,
                "ratios": {name: ratios(found) for name, found in results.items()}}  # fmt: skip
        json_path.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
