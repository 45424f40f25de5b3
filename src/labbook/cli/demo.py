"""``labbook demo``: log the demo project and show it."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--runs", type=int, default=None, help="How many sweep runs (default: all).")
@click.option("--show/--no-show", default=True, help="Show the runs afterwards.")
@click.pass_context
def demo_cmd(ctx, runs, show) -> None:
    """Log a realistic demo project (a small training sweep) into the labbook home and show it."""
    from labbook.config import Settings
    from labbook.demo import PROJECT, run_demo

    settings = Settings.load({}, home=ctx.obj["home"])
    click.echo(f"Logging the '{PROJECT}' demo into {settings.home}")
    uuids = run_demo(ctx.obj["home"], runs=runs, echo=click.echo)
    if not show:
        return
    from labbook.cli.runs import runs_ls, runs_show

    click.echo("")
    ctx.invoke(runs_ls, project=PROJECT, filter_=None, sort=("-metrics.`val/accuracy`",),
               columns="params.lr,params.batch_size,params.l2,metrics.`val/accuracy`,metrics.`val/loss`.min",
               limit=20, offset=0, as_json=False)
    from labbook.runs import search_runs

    best = search_runs(PROJECT, order_by=["-metrics.`val/accuracy`"], limit=1, home=ctx.obj["home"])
    if best:
        click.echo("")
        ctx.invoke(runs_show, run=best[0].uuid, as_json=False)
    click.echo(f"\n{len(uuids)} runs logged. Try: labbook runs ls -p {PROJECT} "
               "-f 'params.lr < 0.5' -s '-metrics.`val/f1`'")


def register(cli: click.Group) -> None:
    cli.add_command(demo_cmd)
