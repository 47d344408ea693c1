"""Static checks of docker-compose.yaml, .env.example and the Dockerfile.

No Docker engine is needed: the files are parsed and checked here. `docker compose config` is run
too when the docker CLI has the compose plugin (it validates the file without an engine).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
# Optional services and the profiles that start them; every other service always starts.
PROFILES = {
    "mailpit": {"demo", "dev"},
    "demo-production": {"demo"},
    "demo-seed": {"demo"},
    "redis": {"celery"},
    "airflow-worker": {"celery"},
}
EXPECTED_SERVICES = AIRFLOW_SERVICES | PROFILES.keys() | {"postgres", "minio", "minio-init", "metabase"}
# Services that run once and exit; every other service is long-running.
ONE_SHOT_SERVICES = {"airflow-init", "minio-init", "demo-seed"}
# Where each stateful service keeps its state: a named volume must be mounted there.
STATEFUL_MOUNTS = {
    "postgres": "/var/lib/postgresql/data",
    "demo-production": "/var/lib/postgresql/data",
    "minio": "/data",
    "mailpit": "/data",
    "redis": "/data",
    "metabase": "/metabase-data",
    **{name: "/opt/airflow/data" for name in AIRFLOW_SERVICES},
    **{name: "/opt/airflow/backups" for name in AIRFLOW_SERVICES},
}
# Variables read by docker compose itself rather than interpolated in the file.
COMPOSE_OWN_VARIABLES = {"COMPOSE_PROFILES"}
# Settings every Airflow service must get from the shared x-airflow-common block (after
# interpolation with .env.example).
AIRFLOW_REQUIRED_ENV = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CELERY__BROKER_URL": "redis://redis:6379/0",
    "ZLV_BACKUP_DIR": "/opt/airflow/backups",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-apiserver:8080/execution/",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "ZLV_DATA_DIR": "/opt/airflow/data",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "DBT_VERSION_CHECK": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
}
# Settings every Airflow service must take from the environment (value: the variable).
AIRFLOW_ENV_FROM_VARIABLES = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "POSTGRES_PASSWORD",
    "ZLV_PSEUDONYMISATION_KEY": "ZLV_PSEUDONYMISATION_KEY",
    "AIRFLOW_CONN_ZLV_PRODUCTION": "AIRFLOW_CONN_ZLV_PRODUCTION",
    "AIRFLOW_CONN_ZLV_S3": "AIRFLOW_CONN_ZLV_S3",
    "AIRFLOW_CONN_ZLV_SMTP": "AIRFLOW_CONN_ZLV_SMTP",
    "AIRFLOW__CELERY__RESULT_BACKEND": "POSTGRES_PASSWORD",
}
# A variable whose name looks like this holds a secret: it must never get a default value.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|^AIRFLOW_CONN_")

# `$$` is an escaped dollar (left to the container's shell); `${NAME...}` and `$NAME` are
# interpolated by compose. Operators: `:-`/`-` default, `:?`/`?` required, `:+`/`+` alternative.
_REFERENCE = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_ENV_LINE = re.compile(r"^(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


# --- helpers -------------------------------------------------------------------------------------


def _strings(node: Any) -> Iterator[str]:
    """Every string of a parsed YAML document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def variable_references(text: str) -> list[tuple[str, str]]:
    """(name, operator) of each compose interpolation in text; operator is '' when there is none."""
    refs = []
    for match in _REFERENCE.finditer(text):
        if match.group("braced"):
            refs.append((match.group("braced"), match.group("op") or ""))
        elif match.group("plain"):
            refs.append((match.group("plain"), ""))
    return refs


def _default_of(text: str, start: int) -> tuple[str, int]:
    """The default text of a `${NAME:-default}` starting at start, and the index after the `}`."""
    depth, i = 1, start
    while i < len(text) and depth:
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
        i += 1
    return text[start : i - 1], i


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style interpolation, enough for image names and volume sources."""
    out, i = [], 0
    while i < len(text):
        match = _REFERENCE.match(text, i) if text[i] == "$" else None
        if match is None:
            out.append(text[i])
            i += 1
        elif match.group(0) == "$$":
            out.append("$")
            i = match.end()
        elif match.group("plain"):
            out.append(env.get(match.group("plain"), ""))
            i = match.end()
        else:
            name, op = match.group("braced"), match.group("op") or ""
            inner, i = ("", match.end() + 1) if not op else _default_of(text, match.end())
            value = env.get(name)
            if op in (":-", "-"):
                use_default = value is None or (op == ":-" and value == "")
                out.append(interpolate(inner, env) if use_default else value)
            elif op in (":+", "+"):
                use_alternative = value is not None and (op == "+" or value != "")
                out.append(interpolate(inner, env) if use_alternative else "")
            else:
                out.append(value or "")
    return "".join(out)


def image_is_pinned(image: str) -> bool:
    """True when the reference names a fixed version: a digest, or a tag that is not `latest`."""
    if "@sha256:" in image:
        return True
    last_component = image.rsplit("/", 1)[-1]
    if ":" not in last_component:
        return False  # no tag: docker pulls `latest`
    tag = last_component.rsplit(":", 1)[1]
    return bool(tag) and tag != "latest" and not tag.startswith("$")


def parse_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """The variables of a dotenv file, and the names whose line has no comment line above it."""
    values: dict[str, str] = {}
    undocumented: list[str] = []
    previous = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = _ENV_LINE.match(line)
        if match:
            value = match.group("value").strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match.group("name")] = value
            if not previous.startswith("#"):
                undocumented.append(match.group("name"))
        elif line and not line.startswith("#"):
            raise AssertionError(f"{path.name}: unparsable line {raw!r}")
        previous = line
    return values, undocumented


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _split_outside_braces(text: str, sep: str = ":") -> list[str]:
    """Split on sep, except inside `${...}` (whose defaults may contain the separator)."""
    parts, current, depth, i = [], [], 0, 0
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            current.append("${")
            i += 2
            continue
        char = text[i]
        if char == "}" and depth:
            depth -= 1
        if char == sep and not depth:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def volume_mounts(service: dict) -> list[dict[str, Any]]:
    """The service's volumes in long syntax: dicts with type, source, target, read_only."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append(
                {
                    "type": volume.get("type", "volume"),
                    "source": volume.get("source"),
                    "target": volume.get("target"),
                    "read_only": bool(volume.get("read_only", False)),
                }
            )
            continue
        parts = _split_outside_braces(volume)
        if len(parts) == 1:
            mounts.append({"type": "volume", "source": None, "target": parts[0], "read_only": False})
            continue
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        is_path = source.startswith((".", "/", "~", "$"))
        mounts.append(
            {
                "type": "bind" if is_path else "volume",
                "source": source,
                "target": target,
                "read_only": "ro" in mode.split(","),
            }
        )
    return mounts


def missing_bind_sources(services: dict, repo_root: Path, env: dict[str, str]) -> list[str]:
    """Bind mounts whose host path is absolute (not portable) or missing from the repository."""
    problems = []
    for name, service in services.items():
        for mount in volume_mounts(service):
            if mount["type"] != "bind":
                continue
            source = interpolate(str(mount["source"]), env)
            if source.startswith(("/", "~")):
                problems.append(f"{name}: bind mount of an absolute host path {source!r}")
            elif not (repo_root / source).exists():
                problems.append(f"{name}: bind mount source {source!r} does not exist")
    return problems


def dockerfile_base_images(dockerfile: Path) -> list[str]:
    """The images named by FROM lines, leaving out earlier build stages and `scratch`."""
    stages: set[str] = set()
    images = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        words = [w for w in words[1:] if not w.startswith("--")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2].lower())
        if image.lower() not in stages and image != "scratch":
            images.append(image)
    return images


def _docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    document = yaml.safe_load(compose_text)
    assert isinstance(document, dict), "docker-compose.yaml is not a mapping"
    assert isinstance(document.get("services"), dict), "docker-compose.yaml has no services"
    return document


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)[0]


@pytest.fixture(scope="module")
def references(compose: dict) -> list[tuple[str, str]]:
    refs = [ref for text in _strings(compose) for ref in variable_references(text)]
    assert refs, "docker-compose.yaml uses no variable at all"
    return refs


# --- services ------------------------------------------------------------------------------------


def test_expected_services_exist(services: dict) -> None:
    missing = EXPECTED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"


def test_image_pin_check_itself() -> None:
    assert image_is_pinned("postgres:16.4")
    assert image_is_pinned("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z")
    assert image_is_pinned("localhost:5000/team/app@sha256:" + "0" * 64)
    assert not image_is_pinned("postgres")
    assert not image_is_pinned("postgres:latest")
    assert not image_is_pinned("localhost:5000/team/app")


def test_registry_images_are_pinned(services: dict, env_example: dict[str, str]) -> None:
    unpinned = []
    for name, service in services.items():
        if "build" in service:
            continue  # built here: its base image is checked in the Dockerfile
        assert "image" in service, f"{name} has neither image nor build"
        image = interpolate(str(service["image"]), env_example)
        if not image_is_pinned(image):
            unpinned.append(f"{name}: {image}")
    assert not unpinned, f"images without a fixed version tag: {unpinned}"


def test_built_images_have_a_dockerfile_with_pinned_base(services: dict) -> None:
    built = {name: s for name, s in services.items() if "build" in s}
    assert AIRFLOW_SERVICES <= built.keys(), "the Airflow services must be built from the Dockerfile"
    for name, service in built.items():
        build = service["build"]
        if isinstance(build, str):
            build = {"context": build}
        context = REPO_ROOT / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        bases = dockerfile_base_images(dockerfile)
        assert bases, f"{dockerfile.name} has no FROM line"
        for base in bases:
            assert image_is_pinned(base), f"{dockerfile.name}: base image {base} is not pinned"


def dockerfile_copy_sources(dockerfile: Path) -> list[str]:
    """The build-context paths read by COPY/ADD lines (copies from other stages left out)."""
    sources = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        flags = [w for w in words[1:] if w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        paths = [w for w in words[1:] if not w.startswith("--")]
        sources.extend(p for p in paths[:-1] if "://" not in p)
    return sources


def test_dockerfile_copies_only_existing_paths(services: dict) -> None:
    build = services["airflow-scheduler"]["build"]
    context = REPO_ROOT / build.get("context", ".")
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    sources = dockerfile_copy_sources(dockerfile)
    assert "requirements.txt" in sources, "the image must install the pinned requirements.txt"
    missing = sorted(src for src in sources if not (context / src).exists())
    assert not missing, f"{dockerfile.name} copies paths missing from the build context: {missing}"


def test_airflow_services_share_the_common_settings(services: dict, env_example: dict[str, str]) -> None:
    for name in AIRFLOW_SERVICES:
        env = _environment(services[name])
        for key, expected in AIRFLOW_REQUIRED_ENV.items():
            value = interpolate(env.get(key, ""), env_example)
            assert value == expected, f"{name}: {key} should be {expected!r}, is {env.get(key)!r}"
        for key, variable in AIRFLOW_ENV_FROM_VARIABLES.items():
            used = {ref for ref, _ in variable_references(env.get(key, ""))}
            assert variable in used, f"{name}: {key} must come from ${{{variable}}}"


def test_airflow_init_migrates_creates_admin_and_applies_settings(services: dict) -> None:
    command = services["airflow-init"].get("command")
    script = " ".join(command) if isinstance(command, list) else str(command)
    assert "airflow db migrate" in script
    assert "airflow users create" in script
    assert "python -m zlv_dwh.airflow_settings" in script and "airflow_settings.yaml" in script


def test_one_shot_services_do_not_restart(services: dict) -> None:
    for name in ONE_SHOT_SERVICES:
        assert str(services[name].get("restart", "no")) == "no", f"{name} must not be restarted"


def test_long_running_services_have_a_healthcheck(services: dict) -> None:
    long_running = services.keys() - ONE_SHOT_SERVICES
    assert long_running, "no long-running service"
    for name in sorted(long_running):
        healthcheck = services[name].get("healthcheck") or {}
        assert not healthcheck.get("disable"), f"{name}: healthcheck disabled"
        assert healthcheck.get("test"), f"{name}: no healthcheck"


def _depends_on(service: dict) -> dict[str, dict]:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {dep: {} for dep in depends_on}
    return {dep: spec or {} for dep, spec in depends_on.items()}


def test_dependencies_wait_for_the_right_condition(services: dict) -> None:
    for name, service in services.items():
        for dependency, spec in _depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            expected = "service_completed_successfully" if dependency in ONE_SHOT_SERVICES else "service_healthy"
            condition = spec.get("condition")
            assert condition == expected, f"{name} -> {dependency}: condition {condition!r}, want {expected}"


# --- profiles ------------------------------------------------------------------------------------


def test_optional_services_belong_to_their_profiles(services: dict) -> None:
    found = {name: set(service["profiles"]) for name, service in services.items() if service.get("profiles")}
    assert found == PROFILES, "mailpit only in demo/dev, the demo database and its seeder in demo, redis and workers in celery"


def test_a_service_started_by_a_profile_needs_nothing_outside_it(services: dict) -> None:
    """`docker compose up` with any set of profiles must not pull in a service of another profile:
    a dependency on an optional service is `required: false` unless every profile of the
    dependent service also starts it."""
    for name, service in services.items():
        own = set(service.get("profiles") or [])
        for dependency, spec in _depends_on(service).items():
            needed = set(services[dependency].get("profiles") or [])
            if not needed or spec.get("required", True) is False:
                continue
            assert own and own <= needed, f"{name} requires {dependency}, which only the profiles {sorted(needed)} start"


def test_the_scheduler_waits_for_the_optional_services_when_they_run(services: dict) -> None:
    optional = {dep for dep, spec in _depends_on(services["airflow-scheduler"]).items() if spec.get("required") is False}
    assert optional == {"mailpit", "demo-seed", "redis"}


def test_env_example_profiles_exist(services: dict, env_example: dict[str, str]) -> None:
    declared = {p for service in services.values() for p in service.get("profiles") or []}
    chosen = {p.strip() for p in env_example.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    assert chosen <= declared, f"COMPOSE_PROFILES names unknown profiles: {sorted(chosen - declared)}"


def test_env_example_connections_point_at_the_demo_services(env_example: dict[str, str]) -> None:
    """As shipped, .env.example runs the demo: its connections reach the demo database and Mailpit."""
    production = urllib.parse.urlsplit(env_example["AIRFLOW_CONN_ZLV_PRODUCTION"])
    # the seeder's read-only login, not the owner account (the loader refuses a login that can write)
    assert (production.hostname, production.username, production.password, production.path.lstrip("/")) == (
        "demo-production",
        env_example["DEMO_READER_USER"],
        env_example["DEMO_READER_PASSWORD"],
        env_example["DEMO_PRODUCTION_DB"],
    )
    assert env_example["DEMO_READER_USER"] != env_example["DEMO_PRODUCTION_USER"]
    smtp = json.loads(env_example["AIRFLOW_CONN_ZLV_SMTP"])
    assert (smtp["conn_type"], smtp["host"], smtp["port"]) == ("smtp", "mailpit", 1025)
    assert smtp["extra"]["from_email"]
    s3 = json.loads(env_example["AIRFLOW_CONN_ZLV_S3"])
    assert (s3["login"], s3["password"]) == (env_example["MINIO_ROOT_USER"], env_example["MINIO_ROOT_PASSWORD"])
    assert s3["extra"]["endpoint_url"] == "http://minio:9000"


def test_demo_seed_runs_the_generator_with_the_variables_it_reads(services: dict) -> None:
    seed = services["demo-seed"]
    command = seed["command"] if isinstance(seed["command"], list) else seed["command"].split()
    assert command[:3] == ["python", "-m", "zlv_dwh.demo.generate"]
    generator = (REPO_ROOT / "include" / "zlv_dwh" / "demo" / "generate.py").read_text(encoding="utf-8")
    env = _environment(seed)
    for key in env:
        assert f'"{key}"' in generator, f"demo-seed sets {key}, which zlv_dwh.demo.generate does not read"
    for needed in ("ZLV_DEMO_PRODUCTION_URL", "ZLV_DEMO_S3_URL", "ZLV_DEMO_S3_ACCESS_KEY", "ZLV_DEMO_S3_SECRET_KEY"):
        assert needed in env, f"demo-seed must set {needed}"
    assert "@demo-production:5432/" in env["ZLV_DEMO_PRODUCTION_URL"]


def test_celery_workers_use_the_broker_and_refuse_a_local_executor(services: dict) -> None:
    worker = services["airflow-worker"]
    script = " ".join(worker["command"]) if isinstance(worker["command"], list) else worker["command"]
    assert "airflow celery worker" in script
    assert "CeleryExecutor" in script, "a worker started without CeleryExecutor must stop with a message"
    broker = urllib.parse.urlsplit(_environment(worker)["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.hostname in services and services[broker.hostname]["image"].startswith("redis:")


def test_the_pinned_celery_provider_imports() -> None:
    """The image installs requirements.txt: the pinned celery provider must work with its pinned celery."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import airflow.providers.celery.executors.celery_executor as m; print(m.CeleryExecutor.__name__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"},
    )
    assert result.returncode == 0 and "CeleryExecutor" in result.stdout, result.stderr[-2000:]


# --- variables -----------------------------------------------------------------------------------


def test_env_example_documents_every_variable(references: list[tuple[str, str]], env_example: dict[str, str]) -> None:
    missing = sorted({name for name, _ in references} - env_example.keys())
    assert not missing, f"variables used by docker-compose.yaml but absent from .env.example: {missing}"


def test_env_example_has_no_stale_variable(references: list[tuple[str, str]], env_example: dict[str, str]) -> None:
    unused = sorted(env_example.keys() - {name for name, _ in references} - COMPOSE_OWN_VARIABLES)
    assert not unused, f".env.example variables that docker-compose.yaml does not use: {unused}"


def test_env_example_variables_are_commented() -> None:
    _, undocumented = parse_env_file(ENV_EXAMPLE)
    assert not undocumented, f".env.example variables without a comment line above: {undocumented}"


def test_required_variables_have_a_placeholder(references: list[tuple[str, str]], env_example: dict[str, str]) -> None:
    required = {name for name, op in references if op in (":?", "?", "")}
    empty = sorted(name for name in required if not env_example.get(name))
    assert not empty, f"required variables with an empty placeholder in .env.example: {empty}"


def test_secrets_have_no_default(references: list[tuple[str, str]]) -> None:
    with_default = sorted({name for name, op in references if SECRET_NAME.search(name) and op not in (":?", "?")})
    assert not with_default, f"secret variables must be required (${{VAR:?...}}): {with_default}"


def test_no_secret_value_in_the_compose_file(services: dict) -> None:
    credentials = re.compile(r'"password"\s*:|://[^/@\s]*:[^/@\s]*@', re.IGNORECASE)
    for name, service in services.items():
        for key, value in _environment(service).items():
            if variable_references(value):
                continue  # the value comes from the environment
            assert not re.search(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$", key), f"{name}: {key} is a literal"
            assert not credentials.search(value), f"{name}: {key} holds literal credentials"


# --- volumes -------------------------------------------------------------------------------------


def test_bind_mount_check_itself(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    fake = {
        "ok": {"volumes": ["./dags:/opt/airflow/dags:ro", "data:/data"]},
        "missing": {"volumes": [{"type": "bind", "source": "./plugins", "target": "/p"}]},
        "absolute": {"volumes": ["/etc/passwd:/x"]},
        "interpolated": {"volumes": ["${PROJECT_DIR:-.}/dags:/opt/airflow/dags"]},
    }
    problems = missing_bind_sources(fake, tmp_path, {})
    assert len(problems) == 2, problems
    assert any(p.startswith("missing:") for p in problems)
    assert any(p.startswith("absolute:") for p in problems)


def test_bind_mount_sources_exist(services: dict, env_example: dict[str, str]) -> None:
    problems = missing_bind_sources(services, REPO_ROOT, env_example)
    assert not problems, problems


def test_named_volumes_are_declared_and_used(compose: dict, services: dict) -> None:
    declared = set((compose.get("volumes") or {}).keys())
    used = set()
    for name, service in services.items():
        for mount in volume_mounts(service):
            if mount["type"] != "volume":
                continue
            assert mount["source"], f"{name}: anonymous volume at {mount['target']}, name it"
            used.add(mount["source"])
    assert used, "no service uses a named volume"
    assert not used - declared, f"volumes used but not declared at top level: {sorted(used - declared)}"
    assert not declared - used, f"volumes declared but never used: {sorted(declared - used)}"


def test_stateful_services_keep_state_in_named_volumes(services: dict) -> None:
    for name, target in STATEFUL_MOUNTS.items():
        mounts = [m for m in volume_mounts(services[name]) if m["target"] == target]
        assert mounts, f"{name}: nothing mounted at {target}"
        assert mounts[0]["type"] == "volume" and mounts[0]["source"], f"{name}: {target} is not a named volume"
        assert not mounts[0]["read_only"], f"{name}: {target} must be writable"
    airflow_sources = {
        next(m["source"] for m in volume_mounts(services[n]) if m["target"] == "/opt/airflow/data") for n in AIRFLOW_SERVICES
    }
    assert airflow_sources == {"warehouse"}, "all Airflow services must share the warehouse volume"


def test_airflow_volumes_are_created_by_the_image(services: dict) -> None:
    """A new named volume takes the owner of the image's folder it is mounted on: a folder the
    image does not create would be root's, and the airflow user could not write it."""
    created = set()
    for line in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("RUN mkdir"):
            created |= {word for word in line.split() if word.startswith("/")}
    base_image_folders = {"/opt/airflow/logs"}  # created by the official image
    for name in AIRFLOW_SERVICES:
        for mount in volume_mounts(services[name]):
            if mount["type"] == "volume" and mount["target"] not in base_image_folders:
                assert any(folder == mount["target"] or folder.startswith(mount["target"] + "/") for folder in created), (
                    f"{name}: the Dockerfile does not create {mount['target']}"
                )


def test_metabase_reads_the_warehouse_volume_read_only(services: dict) -> None:
    mounts = [m for m in volume_mounts(services["metabase"]) if m["source"] == "warehouse"]
    assert mounts, "metabase does not mount the warehouse volume"
    assert all(m["read_only"] for m in mounts), "metabase must mount the warehouse read-only"
    plugins = [m for m in volume_mounts(services["metabase"]) if m["target"] == "/plugins"]
    assert plugins and plugins[0]["source"] == "metabase-plugins"


# --- docker compose ------------------------------------------------------------------------------


def test_docker_compose_config_is_valid(env_example: dict[str, str]) -> None:
    if not _docker_compose_works():
        pytest.skip("`docker compose version` does not work here (no compose plugin)")
    # The values must come from .env.example alone, not from whatever this shell exports.
    environment = {k: v for k, v in os.environ.items() if k not in env_example and not k.startswith("COMPOSE_")}
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), "config", "-q"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
