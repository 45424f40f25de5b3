"""``labbook demo``: log the demo project and show it."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--runs", type=int, default=None, help="How many sweep runs (default: all five).")
@click.option("--show/--no-show", default=True, help="Show the runs afterwards.")
@click.pass_context
def demo_cmd(ctx, runs, show) -> None:
    """Log a realistic demo project (data prep, a training sweep, an evaluation) and show it."""
    from labbook.config import Settings
    from labbook.demo import PROJECT, run_demo

    settings = Settings.load({}, home=ctx.obj["home"])
    click.echo(f"Logging the '{PROJECT}' demo into {settings.home}")
    uuids = run_demo(ctx.obj["home"], runs=runs, echo=click.echo)
    if not show:
        return
    from labbook.cli.runs import runs_ls, runs_show

    click.echo("")
    ids = ", ".join(f"'{u}'" for u in uuids)
    ctx.invoke(runs_ls, project=PROJECT, filter_=f"uuid in ({ids})", sort=("-metrics.`val/accuracy`",),
               columns="params.lr,params.batch_size,params.l2,metrics.`val/accuracy`,"
                       "metrics.`val/loss`.min,metrics.`val/auc`",
               limit=len(uuids), offset=0, as_json=False)
    from labbook import get_artifact

    best = get_artifact(f"store://models/{PROJECT}/churn-logreg:best", home=ctx.obj["home"])
    click.echo(f"\nThe best model, {best.uri_with('best')} (v{best.version}), was trained by:")
    ctx.invoke(runs_show, run=best.producer["run"], as_json=False)
    from labbook.cli.artifacts import lineage_cmd

    click.echo("\nWhere the evaluation report comes from:")
    ctx.invoke(lineage_cmd, target=f"store://artifacts/{PROJECT}/evaluation-report",
               direction="up", depth=None, as_json=False)
    click.echo(f"\n{len(uuids)} runs logged. Try: labbook runs ls -p {PROJECT} "
               "-f 'params.lr < 0.5' -s '-metrics.`val/f1`'   ·   "
               f"labbook artifacts ls -p {PROJECT}")


def register(cli: click.Group) -> None:
    cli.add_command(demo_cmd)
