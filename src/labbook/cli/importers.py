"""``labbook import mlflow|tensorboard|wandb``: runs from other trackers (see docs/importers.md)."""

from __future__ import annotations

from typing import Any, Callable

import click


def _run_import(source: str, list_runs: Callable[[], tuple[str, list[Any]]], project: str | None,
                home: str | None) -> None:
    """List the source's runs, import them with a progress bar, then say what was not carried."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from labbook.importers.common import import_runs

    uri, runs = list_runs()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(f"Importing from {source}", total=len(runs))
        seen = [0]

        def advance(label: str) -> None:
            progress.update(task, completed=seen[0], description=f"{source}: {label}")
            seen[0] += 1

        report = import_runs(source, uri, runs, project, home=home, progress=advance)
        progress.update(task, completed=len(runs))
    _print_report(report)


def _print_report(report: Any) -> None:
    click.echo(f"Imported {len(report.created)} run(s) from {report.source} ({report.uri}); "
               f"{len(report.existing)} imported before, {len(report.skipped)} skipped, "
               f"{len(report.failed)} failed.")
    for label, why in report.skipped.items():
        click.echo(f"  skipped {label}: {why}")
    for label, why in report.failed.items():
        click.secho(f"  failed {label}: {why}", fg="red")
    if report.notes:
        click.echo("Not carried over:")
        for label, notes in report.notes.items():
            click.echo(f"  {label}: {', '.join(notes)}")
        summary = ", ".join(f"{note}: {count} run(s)" for note, count in report.summary().most_common())
        click.echo(f"  in all: {summary}")
    if report.failed:
        raise SystemExit(1)


@click.group("import")
def import_group() -> None:
    """Import runs from MLflow or TensorBoard (importing again adds nothing)."""


@import_group.command("mlflow")
@click.option("--tracking-uri", help="MLflow's tracking URI (default: MLFLOW_TRACKING_URI, else MLflow's default).")
@click.option("--experiment", "experiments", multiple=True, help="Only this experiment (repeatable).")
@click.option("--project", help="Put every run in this project (default: one project per experiment).")
@click.pass_context
def import_mlflow(ctx, tracking_uri, experiments, project) -> None:
    """Import MLflow runs: params, metrics (every step), tags, status, times, artifacts, models."""
    from labbook.importers import mlflow

    def list_runs():
        client, uri = mlflow.client_for(tracking_uri)
        return uri, mlflow.source_runs(client, experiments)

    _run_import(mlflow.SOURCE, list_runs, project, ctx.obj["home"])


@import_group.command("tensorboard")
@click.argument("logdir", type=click.Path(exists=True, file_okay=False))
@click.option("--project", help="The project for the runs (default: the home's default project).")
@click.pass_context
def import_tensorboard(ctx, logdir, project) -> None:
    """Import every run folder of a TensorBoard LOGDIR: scalars, histograms, images, text, hparams."""
    from labbook.importers import tensorboard
    from labbook.importers.common import as_path

    _run_import(tensorboard.SOURCE, lambda: (str(as_path(logdir, "LOGDIR")), tensorboard.source_runs(logdir)),
                project, ctx.obj["home"])


def register(cli: click.Group) -> None:
    cli.add_command(import_group)
