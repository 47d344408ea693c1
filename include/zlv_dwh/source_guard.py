"""Prove, before every production load, that the login it connects with can only read.

The loader's session starts read-only (`default_transaction_read_only=on` in its DSN) and DuckDB
attaches it READ_ONLY, but a session default is switchable by the session itself (`set transaction
read write`, a `postgres_execute` through the attach), so they prove nothing alone. And a
superuser's functions with side effects (`pg_terminate_backend`, `copy ... to program`, `lo_export`,
`pg_reload_conf`) run even inside a read-only transaction, through the attach like any query. What
the login may do is the guarantee, so it is checked here, on the same DSN:

- no superuser, CREATEROLE, CREATEDB, BYPASSRLS or REPLICATION attribute;
- no INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER on any table, view, foreign table or
  sequence (UPDATE: setval) of the database, and no CREATE on any schema or on the database itself
  (pg_catalog, information_schema, the toast and temporary schemas excepted: all named `pg_*`);
- no membership, direct or through other roles, of a role that has any of these, nor of
  pg_write_all_data, pg_write_server_files, pg_execute_server_program, pg_signal_backend or
  pg_read_server_files;
- `default_transaction_read_only = on` set on the role server-side (pg_db_role_setting), so that
  every session of the login, one opened by hand without our DSN option too, starts read-only.

TEMP on the database is tolerated (PostgreSQL grants it to PUBLIC by default): a temporary table
lives in the session's own schema and is dropped with it; it cannot touch production data.

Only the database of the DSN is inspected: the same login's grants in another database of the
server are not (the attributes and memberships, which are server-wide, are)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import psycopg

from zlv_dwh.ingest_postgres import IngestError

log = logging.getLogger(__name__)

WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
ATTRIBUTES = {
    "rolsuper": "SUPERUSER",
    "rolcreaterole": "CREATEROLE",
    "rolcreatedb": "CREATEDB",
    "rolbypassrls": "BYPASSRLS",
    "rolreplication": "REPLICATION",
}
# Predefined roles that write, or reach the server's files, programs or other sessions.
DANGEROUS_ROLES = (
    "pg_write_all_data",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_signal_backend",
    "pg_read_server_files",
)
ADMIN = "<an admin role>"

# --- every query of the check ------------------------------------------------------------------

LOGIN_SQL = """
select r.oid, quote_ident(r.rolname), r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolreplication,
       quote_ident(current_database())
from pg_roles r where r.rolname = session_user
"""

# Every role the login belongs to, directly or through other roles, with the direct memberships
# that lead to it (none for pg_database_owner, which the owner of the database belongs to
# implicitly). Names are quoted as SQL needs them (quote_ident), here and below.
MEMBERSHIPS_SQL = """
select g.oid, quote_ident(g.rolname), g.rolsuper, g.rolcreaterole, g.rolcreatedb, g.rolbypassrls, g.rolreplication,
       array(select quote_ident(d.rolname) from pg_auth_members m join pg_roles d on d.oid = m.roleid
             where m.member = %(login)s::oid and pg_has_role(d.oid, g.oid, 'MEMBER') order by d.rolname) as through
from pg_roles g
where g.oid <> %(login)s::oid and pg_has_role(%(login)s::oid, g.oid, 'MEMBER')
order by g.rolname
"""

# What `role` may write in this database, and where each right comes from: the role owns the
# object, it was granted to the role itself, or to PUBLIC (else: through a role it belongs to).
# Column grants count as table grants (REVOKE on the table revokes them too). A NULL or empty ACL
# holds no grant (aclexplode refuses an empty one).
WRITE_RIGHTS_SQL = """
with objects as (
    select case c.relkind when 'S' then 'sequence' else 'table' end as kind,
           quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name, c.relowner as owner,
           array(select unnest(c.relacl) union all select unnest(a.attacl) from pg_attribute a where a.attrelid = c.oid) as acl,
           p.privilege,
           case when c.relkind <> 'S' and p.privilege in ('INSERT', 'UPDATE', 'REFERENCES')
                then has_any_column_privilege(%(role)s::oid, c.oid, p.privilege)
                else has_table_privilege(%(role)s::oid, c.oid, p.privilege) end as held
    from pg_class c join pg_namespace n on n.oid = c.relnamespace,
         unnest(%(privileges)s::text[]) p(privilege)
    where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and n.nspname not like 'pg\\_%%' and n.nspname <> 'information_schema'
    union all
    select 'schema', quote_ident(n.nspname), n.nspowner, n.nspacl, 'CREATE',
           has_schema_privilege(%(role)s::oid, n.oid, 'CREATE')
    from pg_namespace n where n.nspname not like 'pg\\_%%' and n.nspname <> 'information_schema'
    union all
    select 'database', quote_ident(d.datname), d.datdba, d.datacl, 'CREATE',
           has_database_privilege(%(role)s::oid, d.oid, 'CREATE')
    from pg_database d where d.datname = current_database()
)
select kind, name, privilege, owner = %(role)s::oid as owned,
       exists (select 1 from aclexplode(nullif(acl, '{}')) a where a.grantee = %(role)s::oid and a.privilege_type = privilege)
           as granted,
       exists (select 1 from aclexplode(nullif(acl, '{}')) a where a.grantee = 0 and a.privilege_type = privilege) as to_public
from objects where held
order by kind = 'database' desc, kind = 'schema' desc, name, array_position(%(privileges)s::text[], privilege)
"""

# The role's own server-side default (the session value proves nothing: our DSN sets it): the
# setting for this database wins over the role-wide one, as PostgreSQL applies them.
READ_ONLY_SETTING_SQL = """
select split_part(c.setting, '=', 2)
from pg_db_role_setting s, unnest(s.setconfig) c(setting)
where s.setrole = %(login)s::oid and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
  and c.setting like 'default\\_transaction\\_read\\_only=%%'
order by s.setdatabase desc limit 1
"""


class WritableLoginError(IngestError):
    """The production login could write (or run what has side effects): no table is loaded with it.
    The message names the login, what it may do and the statements that take it away."""


@dataclass(frozen=True)
class _Right:
    kind: str
    name: str
    privilege: str
    owned: bool
    granted: bool
    to_public: bool


def _rights(con, role: int) -> list[_Right]:
    rows = con.execute(WRITE_RIGHTS_SQL, {"role": role, "privileges": list(WRITE_PRIVILEGES)}).fetchall()
    return [_Right(*row) for row in rows]


def _revoke(rights: list[_Right], grantee: str) -> list[str]:
    """One REVOKE per object, its privileges together."""
    by_object: dict[tuple[str, str], list[str]] = {}
    for right in rights:
        by_object.setdefault((right.kind, right.name), []).append(right.privilege.lower())
    return [f"revoke {', '.join(privs)} on {kind} {name} from {grantee};" for (kind, name), privs in by_object.items()]


def _describe(rights: list[_Right]) -> list[str]:
    by_object: dict[tuple[str, str], list[str]] = {}
    for right in rights:
        by_object.setdefault((right.kind, right.name), []).append(right.privilege)
    return [f"{', '.join(privs)} on {kind} {name}" for (kind, name), privs in by_object.items()]


def _read_only_by_default(value: str | None) -> bool:
    return value is not None and value.strip().strip("'\"").lower() in ("on", "true", "yes", "1")


def findings(con) -> tuple[str, str, list[str], list[str]]:
    """(login, database, what the login may do, the statements that take it away); both lists
    empty when the login only reads."""
    oid, login, *flags, database = con.execute(LOGIN_SQL).fetchone()
    problems: list[str] = []
    fixes: list[str] = []
    attributes = [ATTRIBUTES[column] for column, on in zip(ATTRIBUTES, flags, strict=True) if on]
    if "SUPERUSER" in attributes:
        # Every privilege check passes for a superuser: listing grants would say nothing more.
        problems.append(
            "is a SUPERUSER: it may do anything, even inside a read-only transaction "
            "(connect with a dedicated SELECT-only login instead: README.md, 'The production login')"
        )
    elif attributes:
        problems.append(f"has the attribute(s) {', '.join(attributes)}")
    if attributes:
        fixes.append(f"alter role {login} {' '.join('no' + a.lower() for a in attributes)};")

    if "SUPERUSER" not in attributes:
        own = _rights(con, oid)
        owned = list(dict.fromkeys((r.kind, r.name) for r in own if r.owned))
        fixes += [f"alter {kind} {name} owner to {ADMIN};" for kind, name in owned]
        granted = [r for r in own if r.granted and not r.owned]
        public = [r for r in own if r.to_public]
        problems += [f"owns {kind} {name}" for kind, name in owned]
        problems += [f"may {d}" for d in _describe(granted)]
        problems += [f"may {d} (granted to PUBLIC)" for d in _describe(public)]
        fixes += _revoke(granted, login) + _revoke(public, "public")

        for goid, group, *group_flags, through in con.execute(MEMBERSHIPS_SQL, {"login": oid}).fetchall():
            rights = [ATTRIBUTES[c] for c, on in zip(ATTRIBUTES, group_flags, strict=True) if on]
            if group in DANGEROUS_ROLES:
                rights.append("predefined role")
            # Rights PUBLIC has are reported once, above: every role has them.
            rights += _describe([r for r in _rights(con, goid) if not r.to_public])
            if not rights:
                continue
            shown = rights[:3] + ([f"{len(rights) - 3} more"] if len(rights) > 3 else [])
            via = f" (through {', '.join(through)})" if through and through != [group] else ""
            problems.append(f"is a member of {group}{via}: {'; '.join(shown)}")
            fixes += [f"revoke {parent} from {login};" for parent in through]
            if group == "pg_database_owner":
                fixes.append(f"alter database {database} owner to {ADMIN};")

    setting = con.execute(READ_ONLY_SETTING_SQL, {"login": oid}).fetchone()
    if not _read_only_by_default(setting[0] if setting else None):
        now = f"= {setting[0]}" if setting else "not set"
        problems.append(f"does not start its sessions read-only (server-side default_transaction_read_only {now})")
        fixes.append(f"alter role {login} set default_transaction_read_only = on;")
    return login, database, problems, list(dict.fromkeys(fixes))


def _name(identifier: str) -> str:
    """An identifier as SQL needs it: bare when it is a plain lower-case name, else quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", identifier):
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def reader_setup_sql(
    role: str, database: str, owner: str, password: str, schemas: tuple[str, ...] = ("public",), create: bool = True
) -> list[str]:
    """What an admin runs for a login this check accepts: SELECT on the tables of `schemas`, those
    `owner` creates later too, and sessions that start read-only (README.md, 'The production login').
    `create=False`: the same for a role that exists (a new password, the rest re-granted)."""
    reader = _name(role)
    secret = "'" + password.replace("'", "''") + "'"
    statements = [
        f"{'create' if create else 'alter'} role {reader} login password {secret};",
        f"alter role {reader} set default_transaction_read_only = on;",
        f"grant connect on database {_name(database)} to {reader};",
    ]
    for schema in map(_name, schemas):
        statements += [
            f"grant usage on schema {schema} to {reader};",
            f"grant select on all tables in schema {schema} to {reader};",
            f"alter default privileges for role {_name(owner)} in schema {schema} grant select on tables to {reader};",
        ]
    return statements


def check_read_only_login(dsn: str) -> None:
    """Raise WritableLoginError unless the DSN's login can only read (see the module docstring)."""
    # The check's own session is read-only too, whatever the DSN says.
    with psycopg.connect(dsn, autocommit=True, options="-c default_transaction_read_only=on") as con:
        login, database, problems, fixes = findings(con)
    if problems:
        raise WritableLoginError(
            f"production login {login} on database {database} is not read-only, refusing to load: "
            + "; ".join(problems)
            + ". As an admin, run:\n  "
            + "\n  ".join(fixes)
        )
    log.info("production login %s checked read-only on database %s", login, database)
