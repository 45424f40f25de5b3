"""``labbook sync [RUN...|--all] [--follow] [--pull] [--json]``: ship runs to LABBOOK_HOST, or back."""

from __future__ import annotations

import json
import time

import click

from labbook.cli.output import shown

COUNTS = ("data_bytes", "requests", "files", "versions")


@click.command("sync")
@click.argument("runs", nargs=-1)
@click.option("--all", "all_runs", is_flag=True, help="Every run of this home.")
@click.option("--follow", is_flag=True, help="Keep sending while the runs are running; stop when they end.")
@click.option("--pull", is_flag=True, help="Fetch RUN... from the server into this home instead.")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary: bytes and requests sent, per run.")
@click.pass_context
def sync_cmd(ctx: click.Context, runs: tuple[str, ...], all_runs: bool, follow: bool, pull: bool,
             as_json: bool) -> None:
    """Send the server (LABBOOK_HOST, LABBOOK_TOKEN) what it lacks of RUN... (ids or unique
    prefixes) or of --all runs: only missing bytes go; a run already there sends none.

    \b
    labbook sync 3f2c             # finish what a run's end() left unsent
    labbook sync --all            # every run of this home (offline runs included)
    labbook sync 3f2c --follow    # while it runs, until it ends
    labbook sync --pull 3f2c9a... # rebuild a server's run in this home (whole uuid)
    labbook sync                  # only the artifact changes (tags, deletions) not sent yet

    Every push then sends the artifact changes the server could not take when they were made
    (tag_artifact, untag_artifact, delete_artifact with LABBOOK_HOST set), oldest first.
    """
    from labbook.config import Settings
    from labbook.sync import changes
    from labbook.sync.runs import client_for, is_finished, local_runs, pull_run, push_run

    settings = Settings.load({}, home=ctx.obj["home"])
    if not runs and not all_runs and (pull or not changes.pending(settings)):
        raise click.UsageError("Name the runs to sync, or pass --all.")
    client = client_for(settings)
    report: list[dict] = []
    sent_changes: dict | None = None
    try:
        if pull:
            for uuid in runs:
                folder = pull_run(uuid.replace("-", "").lower(), settings, client=client)
                report.append({"run": folder.name, "path": str(folder)})
                if not as_json:
                    click.echo(f"Pulled run {shown(folder.name)} into {shown(str(folder))}")
        else:
            folders = local_runs(settings, () if all_runs else runs) if runs or all_runs else []
            totals: dict[str, dict] = {}
            while True:
                finished = follow and all(is_finished(f) for f in folders)  # then one last pass
                for folder in folders:
                    result = push_run(folder, settings, client=client).as_dict()
                    total = totals.setdefault(folder.name, {**result, **{k: 0 for k in COUNTS}})
                    for name in COUNTS:
                        total[name] += result[name]
                    total["conflicts"] = result["conflicts"]
                    total["merged"] = total["merged"] or result["merged"]
                if not follow or finished:
                    break
                time.sleep(max(settings.sync_interval, 0.5))
            report = list(totals.values())
            sent_changes = changes.flush(settings, client)
            if not as_json and (sent_changes["sent"] or sent_changes["pending"]):
                click.echo(f"Artifact changes: {sent_changes['sent']} sent, {sent_changes['pending']} still kept"
                           f"{shown(' (' + sent_changes['reason'] + ')') if sent_changes['reason'] else ''}")
            if not as_json:
                for entry in report:
                    conflicts = f"; {len(entry['conflicts'])} conflict(s): {entry['conflicts'][0]}" \
                        if entry["conflicts"] else ""
                    click.echo(f"Run {shown(entry['run'])}: sent {entry['data_bytes']} bytes in "
                               f"{entry['requests']} requests ({entry['files']} files, "
                               f"{entry['versions']} artifact versions){shown(conflicts)}")
                    if entry["merged"]:
                        click.echo(f"Run {shown(entry['run'])}: run.json was edited on the server; this "
                                   "run folder now holds both sides' changes (merged).")
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps({"host": settings.host, "runs": report, "changes": sent_changes}))
    if any(entry.get("conflicts") for entry in report):
        raise SystemExit(2)


def register(cli: click.Group) -> None:
    cli.add_command(sync_cmd)
