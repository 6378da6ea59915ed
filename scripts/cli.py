"""The `dossier` command line: set-up, users, serving, demo data and read-model operations.

Every command honours `DOSSIER_DB` (or `--db`): unset means the embedded SQLite file.
"""

import contextlib
import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from dossier.access import Actor
from dossier.errors import DomainError, InvalidValue
from dossier.vocabulary import ROLES
from projections.helpers import default_count, preload_in_helpers
from projections.readstore import ViewsOutrun
from projections.runtime import Services, open_services

console = Console()


@click.group()
@click.option("--db", envvar="DOSSIER_DB", default=None, help="SQLite path or postgresql:// URL.")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Loopbaandossier: the event-sourced career dossier service."""
    ctx.obj = db
    # Rebuild helpers run the main module again: the `dossier` script, which imports this
    # module, or this module itself (`python -m scripts.cli`, as `serve` starts its follower).
    preload_in_helpers("scripts.cli")


@contextmanager
def opened(ctx: click.Context, *, background: bool = False, helpers: int = 0) -> Iterator[Services]:
    """Open the services, turning domain errors into a message and exit code 1."""
    services = open_services(ctx.obj, background=background, helpers=helpers)
    try:
        yield services
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    finally:
        services.close()


@main.group()
def school() -> None:
    """Schools."""


@school.command("add")
@click.option("--code", required=True, help="The school's code, e.g. its BRIN number.")
@click.option("--name", required=True)
@click.pass_context
def school_add(ctx: click.Context, code: str, name: str) -> None:
    """Register a school."""
    with opened(ctx) as services:
        services.accounts.add_school(code, name)
        key = services.accounts.school_key(code)
    click.echo(f"School {code} ({name}) added, with a signing key; fingerprint {key.fingerprint}.")


@school.command("key")
@click.argument("code")
@click.pass_context
def school_key(ctx: click.Context, code: str) -> None:
    """Print the school's public key (last line) and its fingerprint, to give other schools."""
    with opened(ctx) as services:
        key = services.accounts.school_key(code)
    click.echo(f"Fingerprint (compare by phone): {key.fingerprint}")
    click.echo(key.public_key)


@school.command("trust")
@click.option("--code", required=True, help="The other school's code.")
@click.option("--public-key", required=True, help="As printed by 'dossier school key' there.")
@click.pass_context
def school_trust(ctx: click.Context, code: str, public_key: str) -> None:
    """Trust another school's key: dossiers it signs can be imported here."""
    with opened(ctx) as services:
        key = services.accounts.trust(code, public_key)
    click.echo(f"Trusting school {code}, fingerprint {key.fingerprint}.")


@school.command("trusted")
@click.pass_context
def school_trusted(ctx: click.Context) -> None:
    """List the trusted keys of other schools."""
    with opened(ctx) as services:
        keys = services.accounts.trusted()
    table = Table("school", "fingerprint", "public key")
    for key in keys:
        table.add_row(key.code, key.fingerprint, key.public_key)
    console.print(table)


@main.group()
def user() -> None:
    """Users and their tokens."""


@user.command("add")
@click.option("--school", required=True, help="The code of the user's school.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True)
@click.option("--valid-days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.pass_context
def user_add(ctx: click.Context, school: str, role: str, name: str, valid_days: int) -> None:
    """Add a user; prints their token once, as the last line."""
    with opened(ctx) as services:
        user_id, token = services.accounts.add_user(school, role, name, timedelta(days=valid_days))
    click.echo(f"User {user_id} ({name}, {role} at {school}) added. Their token, shown only now:")
    click.echo(token)


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List users (never their tokens)."""
    with opened(ctx) as services:
        users = services.accounts.list_users()
    table = Table("id", "name", "role", "school", "status")
    for u in users:
        table.add_row(str(u.id), u.name, u.role, u.school, "revoked" if u.revoked else "active")
    console.print(table)


@user.command("revoke")
@click.argument("user_id", type=click.UUID)
@click.pass_context
def user_revoke(ctx: click.Context, user_id: UUID) -> None:
    """Revoke a user's access: their tokens stop working at once."""
    with opened(ctx) as services:
        services.accounts.revoke_user(user_id)
    click.echo(f"User {user_id} revoked.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Threads of each server process.  [default: 8 with one process, 2 with several]",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Server processes; more than one uses granian (about one per core).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int | None, workers: int) -> None:
    """Serve the API: one process with waitress, or several with granian."""
    from scripts.server import serve_threads, serve_workers

    announce(host, port)
    if workers > 1:
        serve_workers(ctx.obj, host, port, workers, threads or 2)
        return
    with opened(ctx, background=True) as services:
        serve_threads(services, host, port, threads or 8)


def announce(host: str, port: int) -> None:
    click.echo(f"Serving on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)")


@main.command()
@click.option("--serve", "then_serve", is_flag=True, help="Start the server afterwards.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def demo(ctx: click.Context, then_serve: bool, port: int) -> None:
    """Fill the database with a demo school, users and pupils, and say how to use it."""
    from scripts.demo import load_demo

    with opened(ctx, background=then_serve) as services:
        try:
            info = load_demo(services)
        except DomainError as error:
            if not then_serve:
                raise
            click.echo(f"{error.detail}; starting the server on the existing data.")
        else:
            click.echo(describe_demo(info, port))
        if then_serve:
            from scripts.server import serve_threads

            announce("127.0.0.1", port)
            serve_threads(services, "127.0.0.1", port, 8)


def describe_demo(info: Any, port: int) -> str:
    lines = [f"Demo school {info.school} loaded with {len(info.pupil_ids)} pupils.", "Tokens:"]
    lines += [f"  {role:<10} {token}" for role, token in info.tokens.items()]
    coach = info.tokens["coach"]
    lines += [
        "Try:",
        f'  curl -H "Authorization: Bearer {coach}" http://127.0.0.1:{port}/api/v1/pupils',
        f"  open http://127.0.0.1:{port}/api/docs",
    ]
    return "\n".join(lines)


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,  # `--help` is the benchmark's: it lists its options
)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Run the benchmark (scripts/bench.py); `dossier bench --help` for its options."""
    from scripts.bench import main as bench_main

    bench_main.main(args=ctx.args, prog_name="dossier bench")


def cli_actor(school: str) -> Actor:
    """Transfers from the command line act as the school's counsellor, named 'cli'."""
    return Actor(user_id=f"cli:{getpass.getuser()}", role="counsellor", school=school, name="CLI")


@main.command("export")
@click.argument("pupil_id", type=click.UUID)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--school", required=True, help="The code of the pupil's (exporting) school.")
@click.option("--to-school", default=None, help="The receiving school's code.")
@click.pass_context
def export_command(
    ctx: click.Context, pupil_id: UUID, output: Path, school: str, to_school: str | None
) -> None:
    """Export a pupil's signed dossier bundle to a file (needs a consent in force)."""
    with opened(ctx) as services:
        bundle = services.transfers.export(cli_actor(school), pupil_id, to_school)
    output.write_text(json.dumps(bundle, ensure_ascii=False, indent=1))
    click.echo(f"Exported {len(bundle['events'])} events to {output}.")


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--school", required=True, help="The code of the receiving school.")
@click.pass_context
def import_command(ctx: click.Context, files: tuple[str, ...], school: str) -> None:
    """Import dossier bundles from trusted schools; exit 1 if any is refused."""
    refused = 0
    with opened(ctx) as services, Progress(console=console) as progress:
        for path in progress.track(files, description="importing"):
            try:
                result = services.transfers.import_bundle(cli_actor(school), _read(path))
            except DomainError as error:
                refused += 1
                progress.console.print(f"[red]refused[/red] {path}: {error.detail}")
                continue
            verb = "imported" if result.created else "already here"
            progress.console.print(
                f"{verb} {path}: pupil {result.pupil_id}, {result.events} events"
            )
    if refused:
        raise click.ClickException(f"{refused} of {len(files)} bundles refused")


@main.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def verify_command(ctx: click.Context, file: str) -> None:
    """Check a bundle: schema, every hash and the chain, signature, trusted key."""
    with opened(ctx) as services:
        checked = services.transfers.verify(_read(file))
    for what in checked.checks:
        click.echo(f"ok  {what}")
    click.echo(f"{file}: valid bundle of pupil {checked.pupil_id} from {checked.school}.")


def _read(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue(f"{path} is not a JSON file") from None


@main.group()
def projections() -> None:
    """Read models: status, rebuild and follow."""


@projections.command("status")
@click.pass_context
def projections_status(ctx: click.Context) -> None:
    """Show each read model's position in the event log and its lag, and quarantined pupils."""
    with opened(ctx) as services:
        table = Table(
            "read model", "position", "log head", "lag", "quarantined pupils", "facts waiting"
        )
        for s in services.follower.status():
            table.add_row(
                s.name, str(s.position), str(s.head), str(s.lag), str(s.quarantined), str(s.waiting)
            )
        stuck = services.follower.quarantined()
        where = services.reads.live_file()
    console.print(table)
    if where is not None:
        click.echo(f"read models in {where}")  # not wrapped: a path to copy
    for q in stuck:
        console.print(f"quarantined: {q.name} pupil {q.pupil_id} at event {q.position}: {q.error}")
    if stuck:
        console.print("Fix the cause, then: dossier projections rebuild [NAME]")


@projections.command("rebuild")
@click.argument("name", required=False)
@click.pass_context
def projections_rebuild(ctx: click.Context, name: str | None) -> None:
    """Throw read models away (all, or NAME) and rebuild them from the full history."""
    with opened(ctx) as services:
        if name and name not in services.follower.models:
            known = ", ".join(services.follower.models)
            raise click.ClickException(f"no read model {name}; known: {known}")
        with Progress(console=console) as progress:
            task = progress.add_task("rebuilding", total=services.follower.head() or 1)
            try:
                done = services.follower.rebuild(
                    [name] if name else [], on_progress=updater(progress, task)
                )
            except ViewsOutrun:
                raise click.ClickException(
                    "another rebuild, started later, finished first: its read models are in use"
                ) from None
            # What the read models leave for later (the audit's facts per pupil) is done
            # now, so that the first audits after the rebuild need not fold the dossiers.
            facts = progress.add_task("audit facts", total=None)
            services.follower.refresh_all(lambda kept, _: progress.update(facts, completed=kept))
        helped = services.follower.helped_by
    by = f", with {helped} helper process{'es' if helped > 1 else ''}" if helped else ""
    click.echo(f"Rebuilt {name or 'all read models'} from {done} events{by}.")


@projections.command("follow")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process (the one that started the follower) ends.")  # fmt: skip
@click.pass_context
def projections_follow(ctx: click.Context, parent_pid: int | None) -> None:
    """Keep the read models caught up until stopped: one such process serves any number
    of API processes (`dossier serve --workers N` starts one itself)."""
    from projections.labels import default_lexicon

    default_lexicon()  # loaded now, not while holding the write lock in the first catch-up
    # Far behind (after an upgrade's rebuild, say), it shares the work with helpers.
    following = opened(ctx, helpers=default_count())
    with following as services, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: just stop
        services.follower.follow(lambda: parent_pid is None or os.getppid() == parent_pid)


def updater(progress: Progress, task: Any) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


if __name__ == "__main__":
    main()
