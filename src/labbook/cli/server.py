"""``labbook server`` (the team server), ``labbook server token ...`` and ``labbook ui``."""

from __future__ import annotations

import os
import socket
import sys

import click


def _check_catalog(home: str | None) -> None:
    """Open the catalog before serving: an old schema stops here, naming 'labbook db upgrade'."""
    from labbook.workspace import Workspace

    with Workspace(home=home) as workspace:  # its own catalog, whatever LABBOOK_HOST says
        workspace.list_projects()


def _serve(home: str | None, host: str, port: int, workers: int, env: dict[str, str], log_level: str) -> None:
    try:
        import uvicorn
    except ImportError:
        from labbook.errors import MissingDependencyError

        raise MissingDependencyError("uvicorn and fastapi", "server", "labbook server") from None
    if home:
        os.environ["LABBOOK_HOME"] = str(home)
    os.environ.update(env)
    os.environ["LABBOOK_OFFLINE"] = "1"  # a server reads its own stores, never another server (LABBOOK_HOST)
    _check_catalog(home)
    uvicorn.run("labbook.server.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, server_header=False, proxy_headers=False)


def _work(home: str | None, once: bool, poll: float, log_level: str) -> None:
    """The worker role: claim jobs from the catalog and run them (see labbook.server.worker)."""
    import logging
    import signal
    import threading

    from labbook.catalog.catalog import Catalog
    from labbook.catalog.chunks import ChunkedFiles
    from labbook.config import Settings
    from labbook.errors import ConfigError
    from labbook.server.worker import Worker

    settings = Settings.load({}, home=home)
    if not settings.store:
        raise ConfigError("labbook server --role worker needs the object store: set LABBOOK_STORE "
                          "(e.g. s3://bucket/prefix) and LABBOOK_CATALOG_URL as for the API servers.")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    catalog = Catalog(settings.catalog_url)
    try:
        worker = Worker(ChunkedFiles(settings.store, catalog))
        if once:
            for job in worker.run_until_idle():
                click.echo(f"{job.id} {job.kind} {job.run_uuid} {job.target}")
            removed = worker.collect_garbage()
            if any(removed.values()):
                click.echo(f"garbage: {removed['lock_files']} lock files, {removed['bases']} merge bases removed",
                           err=True)  # stdout lists the jobs run, one a line
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo(f"labbook worker {worker.id}: waiting for jobs (Ctrl+C stops it).", err=True)
        try:
            worker.run_forever(stop, poll)
        except KeyboardInterrupt:
            pass
    finally:
        catalog.close()


def _allowed_hosts(host: str) -> dict[str, str]:
    from labbook.config import setting_from_environment

    extra = setting_from_environment("server_allowed_hosts") or ""
    hosts = [h for h in extra.split(",") if h.strip()]
    if host not in ("0.0.0.0", "::"):
        hosts.append(host)
    return {"LABBOOK_SERVER_ALLOWED_HOSTS": ",".join(hosts)} if hosts else {}


@click.group("server", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. 0.0.0.0 serves every interface (then set LABBOOK_SERVER_ALLOWED_HOSTS).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (they share nothing but the catalog and the stores).")
@click.option("--public-read", is_flag=True, help="Serve reads without a token (writes still need one).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--role", default="api", show_default=True, type=click.Choice(["api", "worker"]),
              help="api serves requests; worker does the background work (compaction) queued in the catalog.")
@click.option("--once", is_flag=True, help="Worker: run the queued jobs, collect garbage, then exit.")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Worker: seconds between looks at an empty queue.")
@click.pass_context
def server_group(ctx, host, port, workers, public_read, log_level, role, once, poll) -> None:
    """Run the labbook server: the REST API over this home or the configured catalog and stores.

    Configuration as everywhere: LABBOOK_HOME, LABBOOK_CATALOG_URL, LABBOOK_ARTIFACT_STORE,
    LABBOOK_STORE and LABBOOK_SERVER_* (see docs/server.md). Every write needs a token
    ('labbook server token create'). '--role worker' runs the background worker instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    if role == "worker":
        _work(ctx.obj["home"], once, poll, log_level)
        return
    env = _allowed_hosts(host)
    if public_read:
        env["LABBOOK_SERVER_PUBLIC_READ"] = "1"
    env["LABBOOK_SERVER_LOCAL_ONLY"] = "0"  # only 'labbook ui' trusts loopback callers
    _serve(ctx.obj["home"], host, port, workers, env, log_level)


@server_group.group("token")
def token_group() -> None:
    """Create, list and revoke the server's API tokens."""


@token_group.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. ci.")
@click.option("--scope", "scope", default="read", show_default=True, type=click.Choice(["read", "write", "admin"]))
@click.option("--project", default=None, help="Bind the token to one project.")
@click.option("--expires", default=None, help="Lifetime: 30d, 12h, 90m, 2w (default: never).")
@click.pass_context
def token_create(ctx, name, scope, project, expires) -> None:
    """Create a token and print it once (only a hash is stored)."""
    from labbook import tokens

    secret, record = tokens.create_token(name, scope, project=project, expires=expires, home=ctx.obj["home"])
    click.echo(secret)
    where = f" for project {project}" if project else ""
    until = f", expires {record['expires_at']:%Y-%m-%d %H:%M} UTC" if record["expires_at"] else ""
    click.echo(f"Token {record['id']} ({scope}{where}{until}). It is shown only now: store it safely.", err=True)


@token_group.command("ls")
@click.pass_context
def token_ls(ctx) -> None:
    """List tokens: id, name, scope, project, created, expires, last used, revoked."""
    from labbook import tokens

    def when(moment) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else ""

    rows = tokens.list_tokens(home=ctx.obj["home"])
    click.echo(f"{'id':<14}{'name':<20}{'scope':<7}{'project':<16}{'created':<18}{'expires':<18}"
               f"{'last used':<18}revoked")
    for t in rows:
        click.echo(f"{t['id']:<14}{t['name'][:19]:<20}{t['scope']:<7}{(t['project'] or '*')[:15]:<16}"
                   f"{when(t['created_at']):<18}{when(t['expires_at']):<18}{when(t['last_used_at']):<18}"
                   f"{when(t['revoked_at'])}")


@token_group.command("revoke")
@click.argument("id_or_name")
@click.pass_context
def token_revoke(ctx, id_or_name) -> None:
    """Revoke a token by id, or every live token with that name."""
    from labbook import tokens

    for t in tokens.revoke_token(id_or_name, home=ctx.obj["home"]):
        click.echo(f"Revoked {t['id']} ({t['name']}).")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@click.command("ui")
@click.option("--port", default=None, type=int, help="Port (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.pass_context
def ui_command(ctx, port, no_browser) -> None:
    """Serve this folder's labbook home on 127.0.0.1 for you alone (no token from this machine)."""
    from labbook.config import Settings

    home = ctx.obj["home"]
    settings = Settings.load({}, home=home)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/"
    click.echo(f"labbook ui: serving {settings.home} at {url} (API: {url}api/v1/docs). Ctrl+C stops it.")
    sys.stdout.flush()
    if not no_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    env = {"LABBOOK_HOME": str(settings.home), "LABBOOK_SERVER_LOCAL_ONLY": "1"}
    _serve(home, "127.0.0.1", port, 1, env, "warning")


def register(group: click.Group) -> None:
    group.add_command(server_group)
    group.add_command(ui_command)
