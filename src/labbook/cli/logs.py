"""``labbook logs RUN [-f] [--tail N] [--rank R] [--json]``: a run's captured output."""

from __future__ import annotations

import sys

import click

from labbook.cli.output import shown


@click.command("logs")
@click.argument("run")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing new lines while the run is running; stop when it ends.")
@click.option("--tail", "tail", type=click.IntRange(min=0), default=None,
              help="Only the last N lines (then new ones with -f).")
@click.option("--rank", type=click.IntRange(min=0), default=None, help="Only this process rank's lines.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, as stored.")
@click.pass_context
def logs_cmd(ctx: click.Context, run: str, follow: bool, tail: int | None, rank: int | None,
             as_json: bool) -> None:
    """Print RUN's captured stdout, stderr and logging records (RUN: an id or unique prefix).

    \b
    labbook logs 3f2c            # everything, every rank merged in time order
    labbook logs 3f2c --tail 50  # the last 50 lines
    labbook logs 3f2c -f         # and follow while it runs
    """
    from labbook.store.logs import follow_logs, log_files, read_logs
    from labbook.store.runfile import read_run_file
    from labbook.workspace import Workspace

    workspace = Workspace(home=ctx.obj["home"])
    try:
        path = workspace.run_path(run)
    finally:
        workspace.close()  # following reads only the run folder; the status rule needs only settings
    if not follow and not log_files(path):
        click.echo(f"Run {shown(path.name)} has no captured logs (was it started with track_logs=False?).",
                   err=True)
        return
    ranks = {line.rank for line in read_logs(path, tail=200)}
    with_rank = rank is None and len(ranks) > 1

    def show(line) -> None:
        if as_json:
            import orjson

            sys.stdout.write(orjson.dumps({
                "timestamp": line.timestamp.isoformat(), "stream": line.stream, "level": line.level,
                "logger": line.logger, "rank": line.rank, "message": line.message}).decode() + "\n")
        else:  # as the program wrote it, colours included: this is its own output
            sys.stdout.write(line.format(with_rank=with_rank) + "\n")

    if not follow:
        for line in read_logs(path, tail=tail, rank=rank):
            show(line)
        return

    def ended() -> bool:
        record = read_run_file(path / "run.json")
        record["path"] = str(path)
        return workspace.status_of(record) != "running"

    try:
        for line in follow_logs(path, tail=tail, rank=rank, until=ended):
            show(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass


def register(cli: click.Group) -> None:
    cli.add_command(logs_cmd)
