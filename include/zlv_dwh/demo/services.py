"""Local services for the demo and the tests: a PostgreSQL server and an S3-compatible endpoint.

URLs given in the environment win (ZLV_DEMO_PG_URL, ZLV_DEMO_S3_URL); otherwise a reachable local
PostgreSQL is reused, or a throwaway cluster is started from the installed server binaries, and
moto's S3 server is started on a free port. What we start, we stop."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from zlv_dwh import source_guard

DEMO_S3_ACCESS_KEY = "zlv-demo-access-key"
DEMO_S3_SECRET_KEY = "zlv-demo-secret-key"


class PrerequisiteMissing(RuntimeError):
    """Something the demo needs is not installed; the message says how to install it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    url: str
    started_here: bool = False
    _stop: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) + sorted(
        glob.glob(f"/opt/homebrew/opt/postgresql*/bin/{name}")
    )
    return candidates[-1] if candidates else None


def throwaway_pgdata(state_dir: Path) -> Path:
    """Data folder of the throwaway cluster; as root, one the 'postgres' account can reach
    whatever the permissions of the checkout."""
    if os.geteuid() != 0:
        return state_dir / "pgdata"
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"zlv-pgdata-{digest}"


def start_postgres(state_dir: Path, say: Callable[[str], None] = print) -> Service:
    """An admin URL of a PostgreSQL server where we may create databases, with PostGIS available
    (ZLV's real schema has geometry columns)."""
    service = _start_postgres(state_dir, say)
    try:
        ensure_postgis(service.url, say)
    except PrerequisiteMissing:
        service.stop()
        raise
    return service


def _server_major(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as con:
        return con.info.server_version // 10000


def _postgis_available(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=5) as con:
        return con.execute("select count(*) from pg_available_extensions where name = 'postgis'").fetchone()[0] > 0


def ensure_postgis(url: str, say: Callable[[str], None] = print) -> None:
    """PostGIS must be installable in the server's databases. Debian's package is installed here
    when we can (root and apt-get), otherwise we stop with the exact command to run."""
    if _postgis_available(url):
        return
    major = _server_major(url)
    package = f"postgresql-{major}-postgis-3"
    command = f"apt-get update && apt-get install -y {package}"
    local = any(h in url for h in ("127.0.0.1", "localhost", "@/"))
    if local and os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"PostgreSQL: installing PostGIS ({command})")
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
            done = subprocess.run(step, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            if done.returncode != 0:
                raise PrerequisiteMissing(
                    f"PostGIS is not installed and `{' '.join(step)}` failed:\n{done.stderr.strip()[-800:]}\n"
                    f"  Install it:  sudo {command}"
                )
        if _postgis_available(url):
            return
    raise PrerequisiteMissing(
        f"PostGIS is not available in the PostgreSQL {major} server (ZLV's schema has geometry columns).\n"
        f"  Install it:  sudo {command}   (Debian/Ubuntu; then run the command again)\n"
        "                 brew install postgis                 (macOS)\n"
        "  or point ZLV_DEMO_PG_URL at a server that has PostGIS."
    )


def _start_postgres(state_dir: Path, say: Callable[[str], None]) -> Service:
    if os.environ.get("ZLV_DEMO_PG_URL"):
        url = os.environ["ZLV_DEMO_PG_URL"]
        if not _can_connect(url):
            raise PrerequisiteMissing("ZLV_DEMO_PG_URL is set but PostgreSQL does not answer there")
        say("PostgreSQL: using ZLV_DEMO_PG_URL")
        return Service(url)
    for user in dict.fromkeys([os.environ.get("PGUSER", "postgres"), "postgres", os.environ.get("USER", "")]):
        if not user:
            continue
        url = f"postgresql://{user}@127.0.0.1:5432/postgres"
        if _can_connect(url):
            say(f"PostgreSQL: reusing the local server on 127.0.0.1:5432 (user {user})")
            return Service(url)
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise PrerequisiteMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found and no server answers on 127.0.0.1:5432.\n"
            "  Install them:  sudo apt-get install -y postgresql   (Debian/Ubuntu)\n"
            "                 brew install postgresql@16           (macOS)\n"
            "  or point ZLV_DEMO_PG_URL at a server where you may create databases."
        )
    port = free_port()
    # PostgreSQL refuses to run as root: run the throwaway cluster as the 'postgres' account then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pgdata = throwaway_pgdata(state_dir)
    if not (pgdata / "PG_VERSION").exists():
        say(f"PostgreSQL: creating a throwaway cluster in {pgdata}")
        pgdata.mkdir(parents=True, exist_ok=True)
        if as_user:
            shutil.chown(pgdata, "postgres")
        subprocess.run(
            [*as_user, initdb, "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"], check=True, capture_output=True
        )
    say(f"PostgreSQL: starting the throwaway cluster on port {port}")
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(pgdata),
            "-l",
            str(pgdata / "server.log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {pgdata}",
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run([*as_user, pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"], capture_output=True)

    return Service(f"postgresql://postgres@127.0.0.1:{port}/postgres", started_here=True, _stop=stop)


def recreate_database(admin_url: str, name: str) -> str:
    """Drop and create a database; returns its URL. Only for demo/test databases."""
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')
        con.execute(f'create database "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def create_reader(db_url: str, role: str, password: str, schemas: tuple[str, ...] = ("public",)) -> str:
    """Create (or bring back to) a SELECT-only login with read-only sessions on the database of
    `db_url` (an admin URL or keyword DSN: the tables it creates later are readable too); returns
    the login's URL. The password is only in that URL, for the caller to hand to the connection
    that needs it."""
    with psycopg.connect(db_url, autocommit=True) as con:
        exists = con.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone() is not None
        owner, database = con.execute("select current_user, current_database()").fetchone()
        for statement in source_guard.reader_setup_sql(role, database, owner, password, schemas, create=not exists):
            con.execute(statement)
    params = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(db_url).items() if k not in ("user", "password")}
    host = urllib.parse.quote(params.pop("host", "localhost"), safe="")
    port = f":{params.pop('port')}" if "port" in params else ""
    database = urllib.parse.quote(params.pop("dbname", ""), safe="")
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    login = f"{urllib.parse.quote(role, safe='')}:{urllib.parse.quote(password, safe='')}"
    return f"postgresql://{login}@{host}{port}/{database}{query}"


def drop_reader(db_url: str, role: str) -> None:
    """Drop a login made by create_reader: its grants in the database of `db_url` (an admin URL), then the role."""
    with psycopg.connect(db_url, autocommit=True) as con:
        if con.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone():
            quoted = '"' + role.replace('"', '""') + '"'
            con.execute(f"drop owned by {quoted}")
            con.execute(f"drop role {quoted}")


def start_s3(say: Callable[[str], None] = print) -> Service:
    """An S3 endpoint URL: ZLV_DEMO_S3_URL, or moto's server on a free loopback port."""
    if os.environ.get("ZLV_DEMO_S3_URL"):
        say("S3: using ZLV_DEMO_S3_URL")
        return Service(os.environ["ZLV_DEMO_S3_URL"])
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the S3 server (moto) did not start on port {port}") from None
            time.sleep(0.2)
    say(f"S3: started an S3-compatible server (moto) on {url}")

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    return Service(url, started_here=True, _stop=stop)


def s3_credentials() -> tuple[str, str]:
    return (
        os.environ.get("ZLV_DEMO_S3_ACCESS_KEY", DEMO_S3_ACCESS_KEY),
        os.environ.get("ZLV_DEMO_S3_SECRET_KEY", DEMO_S3_SECRET_KEY),
    )


def start_mailbox(folder: Path, say: Callable[[str], None] = print) -> Service:
    """A local SMTP catcher for `make airflow` (aiosmtpd, loopback): every alert e-mail Airflow
    sends is saved as one .eml file in `folder`, so "read the alert" works without a mail server.
    The Service's url is smtp://127.0.0.1:<port>."""
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)

    class SaveToFolder:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            stamp = time.strftime("%Y%m%dT%H%M%S")
            path = folder / f"{stamp}-{len(list(folder.glob('*.eml'))) + 1:04d}.eml"
            path.write_bytes(message.as_bytes())
            return "250 OK"

    port = free_port()
    controller = Controller(SaveToFolder(), hostname="127.0.0.1", port=port)
    controller.start()
    say(f"alert mailbox: SMTP 127.0.0.1:{port}, every e-mail saved in {folder}/")
    return Service(f"smtp://127.0.0.1:{port}", started_here=True, _stop=controller.stop)
