"""``labbook runs ls|show``, ``labbook metrics``, ``labbook index``, ``labbook db``."""

from __future__ import annotations

import csv
import io
import sys
from typing import Any

import click

from labbook.cli.output import ago as _ago
from labbook.cli.output import console as _console
from labbook.cli.output import dump_json as _dump_json
from labbook.cli.output import duration as _duration
from labbook.cli.output import format_value as _format
from labbook.cli.output import shown, styled
from labbook.errors import LabbookError

STATUS_STYLE = {"succeeded": "green", "running": "cyan", "failed": "red", "crashed": "bold red",
                "stopped": "yellow"}


def _column_value(row, column: str) -> Any:
    from labbook.catalog.query import parse_field

    field = parse_field(column)
    if field.table == "metrics":
        return (row.summaries.get(field.key) or {}).get(field.attr)
    if field.table == "params":
        return (row.inputs if field.attr == "inputs" else row.outputs).get(field.key)
    if field.table == "tags":
        return ",".join(row.tags)
    return getattr(row, field.attr, None)


@click.group("runs")
def runs_group() -> None:
    """List and inspect runs."""


@runs_group.command("ls")
@click.option("-p", "--project", help="Only runs of this project (default: every project).")
@click.option("-f", "--filter", "filter_", help="e.g. \"params.lr < 0.01 and metrics.loss < 0.5\".")
@click.option("-s", "--sort", "sort", multiple=True,
              help="Order by a field; '-' for descending, e.g. -s -metrics.accuracy. Repeatable.")
@click.option("-c", "--columns", help="Extra columns, comma-separated: params.lr,metrics.loss.min,...")
@click.option("-n", "--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="How many runs to show.")
@click.option("--offset", default=0, type=click.IntRange(min=0), help="Skip this many runs (paging).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def runs_ls(ctx, project, filter_, sort, columns, limit, offset, as_json) -> None:
    """List runs, newest first unless sorted."""
    from labbook.workspace import search_runs

    rows = search_runs(project, filter=filter_, order_by=list(sort) or None, limit=limit,
                       offset=offset, home=ctx.obj["home"])
    extra = [c.strip() for c in columns.split(",")] if columns else []
    if not extra and rows:  # show what the runs have: their params and last metric values
        params = sorted({k for r in rows for k, v in r.inputs.items()
                         if not isinstance(v, (dict, list))})[:4]
        metrics = sorted({k for r in rows for k in r.summaries})[:4]
        extra = [f"params.{_quote(p)}" for p in params] + [f"metrics.{_quote(m)}" for m in metrics]
    if as_json:
        _dump_json([r.to_dict() for r in rows])
        return
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for header in ("uuid", "project", "name", "status", "created", "duration", *extra):
        table.add_column(shown(header), no_wrap=header in ("uuid", "created"))
    for r in rows:
        table.add_row(r.uuid[:8], shown(r.project), shown(r.name), styled(r.status, STATUS_STYLE.get(r.status, "")),
                      _ago(r.created_at), _duration(r.duration),
                      *(_format(_column_value(r, c)) for c in extra))
    console = _console()
    console.print(table)
    if not rows:
        console.print("No runs found." + (" Check the filter." if filter_ else ""))


def _quote(name: str) -> str:
    import re

    return name if re.fullmatch(r"[A-Za-z_][\w/\-]*", name) else f"`{name}`"


@runs_group.command("show")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
@click.pass_context
def runs_show(ctx, run, as_json) -> None:
    """Show one run: metadata, params, outputs, metric summaries, code and environment."""
    from labbook.workspace import get_run

    record = get_run(run, home=ctx.obj["home"])
    if as_json:
        data = record.raw
        data["status"] = record.status
        _dump_json(data)
        return
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = _console()
    lines = [
        f"uuid      {record.uuid}", f"project   {shown(record.project)}",
        f"created   {_format(record.created_at)}   duration {_duration(record.duration)}",
        f"tags      {shown(', '.join(record.tags))}", f"path      {shown(record.path)}",
    ]
    if record.description:
        lines.insert(0, shown(record.description))
    if record.code:
        dirty = " (dirty)" if record.code.get("dirty") else ""
        lines.append(shown(f"code      {record.code.get('commit', '')[:12]} {record.code.get('branch') or ''}"
                           f"{dirty} {record.code.get('remote') or ''}"))
    if record.env:
        lines.append(shown(f"env       python {record.env.get('python')} on {record.env.get('hostname')}, "
                           f"{record.env.get('platform')}"))
    heading = Text.assemble(styled(record.name or record.uuid, "bold"), "  ",
                            styled(record.status, STATUS_STYLE.get(record.status, "")))
    console.print(Panel(Text("\n").join([heading, *(Text(line) for line in lines)]), expand=False))
    for title, values in (("inputs", record.inputs), ("outputs", record.outputs)):
        if values:
            table = Table(title=title, title_justify="left", header_style="bold")
            table.add_column("key")
            table.add_column("value")
            for key, value in values.items():
                table.add_row(shown(key), _format(value))
            console.print(table)
    if record.summaries:
        table = Table(title="metrics", title_justify="left", header_style="bold")
        for header in ("name", "last", "min", "max", "count", "last step"):
            table.add_column(header, justify="left" if header == "name" else "right")
        for name, s in sorted(record.summaries.items()):
            table.add_row(shown(name), _format(s.get("last")), _format(s.get("min")), _format(s.get("max")),
                          str(s.get("count")), str(s.get("last_step")))
        console.print(table)
    kinds = [k for k in record.event_kinds() if k != "metric"]
    if kinds:
        table = Table(title="events", title_justify="left", header_style="bold")
        table.add_column("kind")
        table.add_column("names")
        for kind in kinds:
            table.add_row(shown(kind), shown(", ".join(record.event_names(kind))))
        console.print(table)


@click.command("metrics")
@click.argument("run")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--rank", type=click.IntRange(min=0), default=None, help="Only the points written by this rank.")
@click.option("--last", "last", type=click.IntRange(min=0), default=None, help="Only the last N points.")
@click.pass_context
def metrics_cmd(ctx, run, name, fmt, rank, last) -> None:
    """Print every point of metric NAME of RUN (step, value, timestamp)."""
    from labbook.workspace import get_run

    series = get_run(run, home=ctx.obj["home"]).metric(name, rank=rank)
    steps, values, stamps = series.steps, series.values, series.timestamps
    if last is not None:
        first = max(len(steps) - last, 0)
        steps, values, stamps = steps[first:], values[first:], stamps[first:]
    iso = [str(t) + "+00:00" for t in stamps.astype("datetime64[us]")]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["step", "value", "timestamp"])
        writer.writerows(zip(steps.tolist(), values.tolist(), iso))
        sys.stdout.write(out.getvalue())
        return
    if fmt == "json":
        _dump_json({"name": name, "steps": steps, "values": [_json_float(v) for v in values.tolist()],
                    "timestamps": iso})
        return
    from rich.table import Table

    table = Table(title=shown(f"{name} ({len(series)} points)"), title_justify="left", header_style="bold")
    for header in ("step", "value", "timestamp"):
        table.add_column(header, justify="right")
    points = list(zip(steps.tolist(), values.tolist(), iso))
    if len(points) > 200:
        points = points[:100] + [("…", "…", "…")] + points[-100:]
    for step, value, stamp in points:
        table.add_row(str(step), _format(value), stamp)
    _console().print(table)


def _json_float(value: float) -> Any:
    from labbook._values import json_float

    return json_float(value)


@click.command("index")
@click.option("--rebuild", is_flag=True,
              help="Clear the catalog and index every run folder again; a damaged catalog file is "
                   "set aside and a new one built.")
@click.pass_context
def index_cmd(ctx, rebuild) -> None:
    """Bring the catalog in step with the run folders (only changed runs, unless --rebuild)."""
    from rich.progress import Progress

    from labbook.workspace import Workspace

    settings = _home_settings(ctx)
    with Progress(transient=True) as progress:
        task = progress.add_task("Indexing runs", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        with Workspace(settings) as workspace:
            result = workspace.reindex(full=rebuild, progress=advance)
    if result["set_aside"]:
        click.echo(shown(f"The catalog {settings.catalog_url} was damaged ({result['damage']}); moved "
                         f"it to {result['set_aside']} and built a new one from the run folders."),
                   err=True)
    for folder, error in result["skipped"]:
        click.echo(shown(f"Skipped {folder}: {error}"), err=True)
    click.echo(
        f"{result['found']} run folders, {result['indexed']} indexed, {result['failed']} unreadable, "
        f"{result['removed']} removed from the catalog."
    )
    if result["damaged"]:
        click.echo(f"{len(result['damaged'])} damaged artifact record(s) (empty or cut short) set aside, "
                   "kept for you to inspect; their versions are not listed:")
        for location in result["damaged"]:
            click.echo(shown(f"  {location}"))


@click.command("projects")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def projects_cmd(ctx, as_json) -> None:
    """List projects: runs and last activity (the server's with LABBOOK_HOST set)."""
    from labbook.workspace import list_projects

    found = list_projects(home=ctx.obj["home"])
    if as_json:
        _dump_json([{"name": p.name, "run_count": p.run_count, "created_at": p.created_at,
                     "last_activity": p.last_activity} for p in found])
        return
    from rich.table import Table

    table = Table(box=None)
    for column in ("project", "runs", "created", "last activity"):
        table.add_column(column)
    for p in found:
        table.add_row(shown(p.name), str(p.run_count), _format(p.created_at), _format(p.last_activity))
    _console().print(table)


def _home_settings(ctx):
    """The settings of an existing home: a command never creates one."""
    from labbook.config import Settings

    return Settings.load({}, home=ctx.obj["home"]).require_home()


@click.group("db")
def db_group() -> None:
    """The catalog database."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx) -> None:
    """Migrate the catalog schema to this version's revision."""
    from labbook.catalog.catalog import Catalog
    from labbook.config import Settings

    settings = Settings.load({}, home=ctx.obj["home"])  # may create the catalog (a server's, say)
    catalog = Catalog(settings.catalog_url, auto_migrate=True)
    click.echo(f"Catalog at revision {catalog.revision()}.")


@db_group.command("revision")
@click.pass_context
def db_revision(ctx) -> None:
    """Print the catalog's schema revision."""
    from labbook.catalog.catalog import Catalog

    settings = _home_settings(ctx)
    try:
        click.echo(Catalog(settings.catalog_url, auto_migrate=False).revision())
    except LabbookError as error:
        raise click.ClickException(str(error)) from None


def register(cli: click.Group) -> None:
    cli.add_command(runs_group)
    cli.add_command(metrics_cmd)
    cli.add_command(projects_cmd)
    cli.add_command(index_cmd)
    cli.add_command(db_group)
