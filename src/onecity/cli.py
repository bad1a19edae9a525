"""The `onecity` command: a thin Typer front over the services."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings

if TYPE_CHECKING:
    from onecity.simulator import Simulator

app = typer.Typer(help="OneCity: Smart Taipei, One City.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.")
users_app = typer.Typer(help="People and access.")
devices_app = typer.Typer(help="Devices.")
audit_app = typer.Typer(help="The audit log.")
telemetry_app = typer.Typer(help="Telemetry storage.")
mqtt_app = typer.Typer(help="The MQTT broker's device logins.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(devices_app, name="devices")
app.add_typer(audit_app, name="audit")
app.add_typer(telemetry_app, name="telemetry")
app.add_typer(mqtt_app, name="mqtt")
from onecity.core import modules as _modules  # noqa: E402
from onecity.core import status_cli  # noqa: E402
from onecity.waste.kiosk.cli import kiosk_app  # noqa: E402 (the iTrash station software)

app.add_typer(kiosk_app, name="kiosk")
# `onecity status` and the lists (devices, alerts, users), as Rich tables a page at a time.
status_cli.install(app, devices_app=devices_app, users_app=users_app)
# Each domain module's own commands, as `onecity <module> …`.
for _module in _modules.load("waste,roadworks"):
    if _module.cli is not None:
        app.add_typer(_module.cli, name=_module.name)
console = Console()

KEYS_FILE = Path("var/demo-device-keys.json")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    from onecity.bootstrap import migrate, seed_reference

    s = Settings()
    migrate(s.database_url)
    seed_reference(start_platform(s))
    console.print(f"[green]database at head[/green] ({s.database_url.split('@')[-1]})")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the API and dashboard."""
    import uvicorn

    uvicorn.run(
        "onecity.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _print_demo_users(url: str) -> None:
    from onecity.bootstrap import DEMO_USERS

    table = Table(title=f"OneCity demo: {url}")
    for col in ("username", "password", "role", "department"):
        table.add_column(col)
    for u in DEMO_USERS:
        table.add_row(u.username, u.password, str(u.role), u.department or "-")
    console.print(table)


def _start_simulated_devices(plat: Platform, base: str, rate: float) -> Simulator:
    """The demo's bins and bike docks, reporting over HTTP from a background thread."""
    from onecity.core.models import Device
    from onecity.simulator import Simulator, load_devices

    with plat.db.read() as s:
        types = {str(i): str(t) for i, t in s.execute(select(Device.id, Device.type))}
    sim = Simulator(
        load_devices(KEYS_FILE, types, None), server=base, seq_file=Path("var/demo-seq.json")
    )

    def _simulate() -> None:
        time.sleep(2)  # let the server bind first
        sim.run(rate)

    threading.Thread(target=_simulate, daemon=True).start()
    return sim


def _start_waste_demo(plat: Platform, base: str, stop: threading.Event) -> None:
    from onecity.waste import demo as waste_demo
    from onecity.waste import demo_sim

    with console.status("placing iTrash stations at the real iTrash sites…"):
        station_keys = waste_demo.seed(plat, Path("var/demo-station-keys.json"))
    waste_demo.start_kiosks(base, station_keys, Path("var"), stop)
    waste_demo.start_station_telemetry(plat, base, station_keys, stop)
    demo_sim.start(plat)  # a small collection simulation for the simulation page
    console.print(
        f"{len(station_keys)} iTrash stations with simulated citizens: "
        f"{base}/waste/transactions (epb.operator), crews' jobs at "
        f"{base}/waste/jobs (epb.crew), the public station finder at "
        f"{base}/waste/stations, collection routes at "
        f"{base}/waste/planner (epb.operator), "
        "watch one with `onecity kiosk status --journal var/kiosks/IT125-1.sqlite`"
    )


def _start_roadworks_demo(plat: Platform, base: str, stop: threading.Event) -> None:
    from onecity.roadworks.cli import print_demo
    from onecity.roadworks.demo import city as roadworks_demo
    from onecity.roadworks.demo import sites as demo_sites

    with console.status("loading a day of Taipei's road works and a synthetic pipe map…"):
        summary = roadworks_demo.seed(plat)
        demo_sites.register_cameras(plat)
    demo_sites.start_camera_gateway(plat, stop)
    print_demo(summary, base)
    console.print(
        f"road works: the public map at {base}/roadworks/map, permits at "
        f"{base}/roadworks/permits (pwd.operator), filing at "
        f"{base}/roadworks/apply (pwd.contractor, twc.staff, taipower.staff), "
        f"locate requests at {base}/roadworks/locates"
    )


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    youbike: int = 150,
    bins: int = 150,
    rate: float = 40.0,
) -> None:
    """Migrate, load the demo city, start simulated devices and serve the dashboard."""
    import uvicorn

    from onecity.app import create_app
    from onecity.bootstrap import migrate, seed_demo

    os.environ.setdefault("ONECITY_ENVIRONMENT", "demo")
    os.environ.setdefault("ONECITY_TOTP_REQUIRED_ROLES", "")
    os.environ.setdefault("ONECITY_RUN_WORKERS", "true")
    os.environ.setdefault("ONECITY_MODULES", "waste,roadworks")
    settings = Settings()
    with console.status("migrating the embedded database…"):
        migrate(settings.database_url)
    plat = start_platform(settings)
    with console.status("loading the demo city (real Taipei places)…"):
        seed_demo(plat, KEYS_FILE, youbike=youbike, bins=bins)
    _print_demo_users(f"http://{host}:{port}/")
    base = f"http://{host}:{port}"
    sim = _start_simulated_devices(plat, base, rate)
    kiosks_stop = threading.Event()
    enabled = [m.strip() for m in settings.modules.split(",")]
    if "waste" in enabled:
        _start_waste_demo(plat, base, kiosks_stop)
    if "roadworks" in enabled:
        _start_roadworks_demo(plat, base, kiosks_stop)
    app_ = create_app(settings, plat)
    uvicorn.run(app_, host=host, port=port, log_level="warning")
    kiosks_stop.set()
    sim.stopping.set()


@app.command()
def ingest() -> None:
    """Run the MQTT ingester (QoS 1, persistent session) and the outbox relay."""
    from onecity.core.devices.mqtt import run_ingester

    run_ingester(Settings())


@mqtt_app.command("sync-credentials")
def mqtt_sync_credentials(
    passwd: Annotated[Path, typer.Option(help="Mosquitto password_file to write")] = Path(
        "/etc/mosquitto/onecity.passwd"
    ),
    acl: Annotated[Path, typer.Option(help="Mosquitto acl_file to write")] = Path(
        "/etc/mosquitto/onecity.acl"
    ),
    pid_file: Annotated[
        Path | None, typer.Option(help="the broker's pid_file: SIGHUP it after a change")
    ] = None,
    every: Annotated[float, typer.Option(help="seconds between syncs; 0: once and exit")] = 0,
) -> None:
    """Write the broker's logins and ACL from the device registry (keys not revoked, devices
    not retired); with ONECITY_MQTT_USERNAME/_PASSWORD also the platform's own login."""
    from onecity.core.db import Database
    from onecity.core.devices.broker_auth import sync_forever

    s = Settings()
    login = (s.mqtt_username, s.mqtt_password) if s.mqtt_username else None
    sync_forever(Database(s.database_url), passwd, acl, pid_file, login, every)


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, operator, crew, officer, …")],
    department: Annotated[str | None, typer.Option(help="department code, e.g. epb")] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a user (audited as done by the CLI operator)."""
    from onecity.core.errors import AppError

    p = start_platform(Settings())
    try:
        p.auth.create_user(
            f"cli:{os.environ.get('USER', 'root')}",
            username=username,
            password=password,
            role=role,
            department=department,
        )
    except AppError as e:
        console.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]created {username} ({role}, {department or '-'})[/green]")


@users_app.command("totp")
def users_totp(username: str) -> None:
    """Enrol (or re-enrol) a TOTP second factor and print the secret."""
    from onecity.core.errors import AppError

    p = start_platform(Settings())
    try:
        secret = p.auth.enrol_totp(f"cli:{os.environ.get('USER', 'root')}", username)
    except AppError as e:
        console.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(2) from None
    console.print(f"TOTP secret for {username}: [bold]{secret}[/bold]")


@devices_app.command("simulate")
def devices_simulate(
    count: Annotated[int, typer.Option(help="how many devices")] = 100,
    rate: Annotated[float, typer.Option(help="messages per second, all devices together")] = 50,
    server: str = "http://127.0.0.1:8000",
    mqtt: Annotated[
        str,
        typer.Option(
            help="host:port of the broker's device listener, to publish over MQTT instead "
            "(each device logs in with its key; TLS with ONECITY_MQTT_TLS_CA)"
        ),
    ] = "",
    duration: Annotated[float | None, typer.Option(help="seconds; default forever")] = None,
    keys_file: Path = KEYS_FILE,
) -> None:
    """Simulated devices at real Taipei places, reporting with their own keys."""
    from rich.progress import Progress

    from onecity.simulator import Simulator, load_devices

    if not keys_file.exists():
        console.print(f"[red]{keys_file} not found: run `onecity demo` (or seed) first[/red]")
        raise typer.Exit(2)
    sim = Simulator(
        load_devices(keys_file, {}, count),
        server="" if mqtt else server,
        mqtt=mqtt,
        mqtt_tls_ca=Settings().mqtt_tls_ca,
        seq_file=Path("var/sim-seq.json"),
    )
    with Progress(console=console) as progress:
        task = progress.add_task("sending", total=None)
        t = threading.Thread(target=sim.run, args=(rate, duration), daemon=True)
        t.start()
        try:
            while t.is_alive():
                progress.update(
                    task,
                    description=f"sent {sim.sent} (retried {sim.failed}, refused {sim.rejected})",
                )
                t.join(0.5)
        except KeyboardInterrupt:
            sim.stopping.set()
            t.join()
    console.print(f"sent {sim.sent} messages, {sim.failed} failed attempts (retried)")
    if sim.rejected:
        console.print(
            f"[red]{sim.rejected} messages refused by the server; last: {sim.last_error}[/red]"
        )
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit hash chain against the signed checkpoints; name every edited,
    rewritten or deleted record and every forged checkpoint line."""
    from onecity.core import audit_anchor

    settings = Settings()
    p = start_platform(settings)
    with console.status("walking the audit hash chain…"):
        n, anchors, findings = audit_anchor.verify(p.db, settings)
    against = f"against {anchors} signed checkpoint(s)" if anchors else "(no signed checkpoint yet)"
    if not findings:
        console.print(f"[green]audit log intact: {n} records verified {against}[/green]")
        return
    for f in findings:
        where = f"record {f.seq}: " if f.seq else ""
        console.print(f"[red]{where}{f.problem}[/red]", soft_wrap=True)
    console.print(
        f"[red]audit log TAMPERED: {len(findings)} problem(s) in {n} records {against}[/red]"
    )
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    first: Annotated[
        bool,
        typer.Option(
            "--first",
            help="sign although no checkpoint exists and the log is older than the interval "
            "(a new installation; the chain itself must still verify)",
        ),
    ] = False,
) -> None:
    """Sign the chain's head and append it to the checkpoint file (the worker does this
    every ONECITY_AUDIT_CHECKPOINT_MINUTES). Refuses, exit 1, when the chain does not hold."""
    from onecity.core import audit_anchor

    settings = Settings()
    try:
        cp = audit_anchor.write_checkpoint(start_platform(settings).db, settings, first=first)
    except audit_anchor.CheckpointRefused as e:
        for f in e.findings:
            where = f"record {f.seq}: " if f.seq else ""
            console.print(f"[red]{where}{f.problem}[/red]", soft_wrap=True)
        console.print("[red]checkpoint refused: the audit chain does not hold[/red]")
        raise typer.Exit(1) from None
    if cp is None:
        console.print("nothing new since the last checkpoint")
        return
    console.print(
        f"checkpoint written at record {cp.seq} (key {cp.key_id}) to "
        f"{settings.audit_checkpoint_dir / audit_anchor.FILE_NAME}",
        soft_wrap=True,
    )


@telemetry_app.command("purge")
def telemetry_purge(
    days: Annotated[
        int | None, typer.Option(help="default: ONECITY_TELEMETRY_RETENTION_DAYS")
    ] = None,
) -> None:
    """Delete readings older than the retention period."""
    from rich.progress import Progress

    from onecity.core.db import Database
    from onecity.core.devices.retention import due, purge

    s = Settings()
    keep = days or s.telemetry_retention_days
    db = Database(s.database_url)
    todo = due(db, keep)
    if todo == 0:
        n = 0
    else:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"deleting readings older than {keep} days", total=todo)
            n = purge(db, keep, progress=lambda k: bar.advance(task, k))
    console.print(f"deleted {n} readings older than {keep} days")
