"""``labbook``: the command group. Each area adds its commands from its own module."""

from __future__ import annotations

import importlib
import sys

import click

from labbook.errors import LabbookError

# Modules that define a ``register(group)`` function adding their commands.
COMMAND_MODULES = (
    "labbook.cli.runs",
    "labbook.cli.artifacts",
    "labbook.cli.logs",
    "labbook.cli.demo",
    "labbook.cli.server",
    "labbook.cli.importers",
    "labbook.cli.sync",
)


class LabbookGroup(click.Group):
    """Turns LabbookError into a one-line message and exit code 1, never a traceback (user text
    in the message shown by the CLI's one rule, ``labbook.cli.output.shown``)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LabbookError as error:
            from labbook.cli.output import shown

            click.secho(f"Error: {shown(error)}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=LabbookGroup)
@click.version_option(package_name="labbook")
@click.option("--home", envvar="LABBOOK_HOME", type=click.Path(file_okay=False),
              help="The labbook home (default: the nearest .labbook/ up from here).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """labbook: experiment tracking and artifact lineage, embedded by default."""
    ctx.obj = {"home": home}


for _module_name in COMMAND_MODULES:
    importlib.import_module(_module_name).register(cli)


def main() -> None:
    cli(prog_name="labbook")


if __name__ == "__main__":
    main()
