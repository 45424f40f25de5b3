"""``labbook artifacts ls|show|get|download|tag|untag|rm|gc`` and ``labbook lineage``."""

from __future__ import annotations

import click

from labbook.cli.output import console as _console
from labbook.cli.output import dump_json as _dump_json
from labbook.cli.output import format_value as _format
from labbook.cli.output import shown
from labbook.cli.params import ISO_TIME


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)  # pragma: no cover


@click.group("artifacts")
def artifacts_group() -> None:
    """Artifact versions: list, inspect, fetch, tag and delete them."""


@artifacts_group.command("ls")
@click.argument("project", required=False)
@click.option("-p", "--project", "project_option", help="The project (or give it as the argument).")
@click.option("--kind", help="A kind (model, dataset, csv, ...) or a store prefix (models, datasets, ...).")
@click.option("--key", help="An exact key, or ~text for keys containing text.")
@click.option("--label", "labels", multiple=True, help="k=v, or k for 'has label k'; repeat to AND.")
@click.option("--tag", help="Only versions holding this tag ('latest' for each key's newest).")
@click.option("--producer", help="Only versions a run (uuid or prefix) produced.")
@click.option("--since", type=ISO_TIME, help="Created at or after this ISO time.")
@click.option("--until", type=ISO_TIME, help="Created at or before this ISO time.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--offset", default=0, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ls_cmd(ctx, project, project_option, kind, key, labels, tag, producer, since, until, limit, offset,
           as_json) -> None:
    """List artifact versions, newest first."""
    from labbook.workspace import list_artifacts

    project = project or project_option

    versions = list_artifacts(project, kind=kind, key=key, labels=list(labels) or None, tag=tag,
                              producer=producer, since=since, until=until, limit=limit, offset=offset,
                              home=ctx.obj["home"])
    if as_json:
        _dump_json([v.to_dict() for v in versions])
        return
    from rich.table import Table

    table = Table(box=None)
    for column in ("uri", "version", "kind", "size", "tags", "labels", "producer", "created"):
        table.add_column(column)
    for v in versions:
        table.add_row(shown(v.uri), f"v{v.version}", shown(v.kind), _size(v.size), shown(",".join(v.tags)),
                      shown(",".join(f"{k}={val}" for k, val in v.labels.items())),
                      shown((v.producer.get("run") or "")[:12]), _format(v.created_at))
    _console().print(table)
    if len(versions) == limit:
        click.echo(f"(first {limit}; --offset {offset + limit} for more)", err=True)


@artifacts_group.command("show")
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_cmd(ctx, uri, as_json) -> None:
    """Show one version: store://<kind>/<project>/<key>[:tag][@uid]."""
    from labbook.workspace import get_artifact

    version = get_artifact(uri, home=ctx.obj["home"])
    data = version.to_dict()
    if as_json:
        _dump_json(data)
        return
    for field in ("uri", "version", "kind", "uid", "tags", "hash", "size", "format", "location", "labels",
                  "summary", "producer", "sources", "links", "created_at", "description"):
        click.echo(f"{field:12} {_format(data.get(field))}")
    for name, value in (version.meta or {}).items():
        if name not in ("preview", "stats"):
            click.echo(f"meta.{shown(name):7} {_format(value)}")


@artifacts_group.command("get")
@click.argument("uri")
@click.pass_context
def get_cmd(ctx, uri) -> None:
    """Print a local path to the version's bytes (downloaded to the cache if remote)."""
    from labbook.workspace import get_artifact

    click.echo(shown(get_artifact(uri, home=ctx.obj["home"]).local_path()))


@artifacts_group.command("download")
@click.argument("uri")
@click.argument("dest", type=click.Path())
@click.pass_context
def download_cmd(ctx, uri, dest) -> None:
    """Copy the version's bytes to DEST (a file, or a folder)."""
    from labbook.workspace import get_artifact

    click.echo(shown(get_artifact(uri, home=ctx.obj["home"]).download(dest)))


@artifacts_group.command("tag")
@click.argument("uri")
@click.argument("tag")
@click.pass_context
def tag_cmd(ctx, uri, tag) -> None:
    """Point TAG at the version URI names (moving it off another version)."""
    from labbook.workspace import tag_artifact

    version = tag_artifact(uri, tag, home=ctx.obj["home"])
    click.echo(shown(f"{version.uri_with(tag)} -> v{version.version} ({version.uri})"))


@artifacts_group.command("untag")
@click.argument("uri")
@click.argument("tag")
@click.pass_context
def untag_cmd(ctx, uri, tag) -> None:
    """Remove TAG from the artifact URI names."""
    from labbook.workspace import untag_artifact

    untag_artifact(uri, tag, home=ctx.obj["home"])
    click.echo(f"Removed tag {shown(repr(tag))}.")


@artifacts_group.command("rm")
@click.argument("uri")
@click.option("--all", "all_versions", is_flag=True, help="Delete every version of the key.")
@click.option("--data", is_flag=True, help="Also delete bytes no remaining version uses.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rm_cmd(ctx, uri, all_versions, data, yes) -> None:
    """Delete a version (metadata only unless --data), or a whole key with --all."""
    from labbook.workspace import delete_artifact

    what = f"every version of {uri}" if all_versions else uri
    if not yes:
        click.confirm(f"Delete {shown(what)}{' and its data' if data else ''}?", abort=True)
    deleted = delete_artifact(uri, all_versions=all_versions, data=data, home=ctx.obj["home"])
    for version in deleted:
        click.echo(f"Deleted {shown(version.uri)} (v{version.version}).")


@artifacts_group.command("gc")
@click.argument("project", required=False)
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.pass_context
def gc_cmd(ctx, project, dry_run) -> None:
    """Remove stored bytes that no artifact version references."""
    from labbook.workspace import gc

    result = gc(project, dry_run=dry_run, home=ctx.obj["home"])
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {result['removed']} unreferenced blob(s), {_size(result['bytes'])}.")


@click.command("lineage")
@click.argument("target")
@click.option("--direction", type=click.Choice(["up", "down", "both"]), default="both", show_default=True)
@click.option("--depth", type=click.IntRange(min=0), help="Most hops to follow (default: no limit).")
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
@click.pass_context
def lineage_cmd(ctx, target, direction, depth, as_json) -> None:
    """The lineage graph around TARGET: a store:// URI or a run uuid."""
    from labbook.workspace import get_lineage

    graph = get_lineage(target, direction=direction, depth=depth, home=ctx.obj["home"])
    if as_json:
        _dump_json(graph.to_dict())
        return

    def show(node_id: str) -> str:
        node = graph.nodes[node_id]
        detail = node.data.get("uri") or node.data.get("uuid") or node.data.get("path") or ""
        return shown(f"{node.type} {node.label} ({detail})")

    click.echo(f"root: {show(graph.root)}")
    for edge in graph.edges:
        click.echo(f"{show(edge.source)} --{shown(edge.relation)}--> {show(edge.target)}")


def register(cli: click.Group) -> None:
    cli.add_command(artifacts_group)
    cli.add_command(lineage_cmd)
