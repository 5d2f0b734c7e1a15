"""deploy/ checked against the code, without Docker.

The compose file, the Dockerfiles, Prometheus and Grafana name things the code defines:
settings fields (environment variables), packages and their `__main__`, ports, topics,
metrics, office secrets. These tests read both sides and fail, naming the mismatch, when
one side changes without the other. A settings class or module that does not exist yet is
a failure (the deployment would not start), never a skip.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import secrets
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram, Summary
from pydantic import ValidationError

from gerbang.messages import Topic
from gerbang.offices import (
    MissingSecret,
    OfficeConfigError,
    office_secret,
    office_token_sha256,
)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
PROMETHEUS_FILE = DEPLOY / "prometheus" / "prometheus.yml"
GRAFANA = DEPLOY / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "gerbang-office.json"
SOURCE_DIRS = (ROOT / "libs", ROOT / "services")


@dataclass(frozen=True)
class Process:
    """A Gerbang process in compose and what the code says about it."""

    settings: str  # "module:Class" read by the process
    package: str  # workspace member the image installs (Dockerfile --package)
    command: tuple[str, ...]  # what compose runs
    port_field: str  # settings field whose default is the /readyz and /metrics port
    published: bool  # the port is published on the host (APIs)


GATEWAY = "gerbang_gateway.settings:GatewaySettings"
FAQ = "gerbang_faq.main:FaqSettings"
STATUS = "gerbang_status.settings:StatusSettings"
FEEDBACK = "gerbang_feedback.settings:FeedbackSettings"

PROCESSES: dict[str, Process] = {
    "gateway-api": Process(
        GATEWAY, "gerbang-gateway", ("python", "-m", "gerbang_gateway", "api"), "api_port", True
    ),
    "router": Process(
        GATEWAY,
        "gerbang-gateway",
        ("python", "-m", "gerbang_gateway", "router"),
        "router_health_port",
        False,
    ),
    "sender": Process(
        GATEWAY,
        "gerbang-gateway",
        ("python", "-m", "gerbang_gateway", "sender"),
        "sender_health_port",
        False,
    ),
    "faq": Process(FAQ, "gerbang-faq", ("python", "-m", "gerbang_faq"), "health_port", False),
    "status-api": Process(
        STATUS, "gerbang-status", ("python", "-m", "gerbang_status", "api"), "api_port", True
    ),
    "status-worker": Process(
        STATUS,
        "gerbang-status",
        ("python", "-m", "gerbang_status", "worker"),
        "health_port",
        False,
    ),
    "feedback-api": Process(
        FEEDBACK, "gerbang-feedback", ("python", "-m", "gerbang_feedback", "api"), "api_port", True
    ),
    "feedback-worker": Process(
        FEEDBACK,
        "gerbang-feedback",
        ("python", "-m", "gerbang_feedback", "worker"),
        "health_port",
        False,
    ),
}
# One-shot jobs: the settings they read and the console script they run.
JOBS = {"topics": ("gerbang.settings:ServiceSettings", ("gerbang", "topics", "create"))}
INFRA = {"kafka", "redis", "prometheus", "grafana"}

# Which process needs which office secret (GERBANG_<CODE>_<NAME>); least privilege.
OFFICE_SECRETS = {
    "gateway-api": ("APP_SECRET",),
    "sender": ("ACCESS_TOKEN",),
    "status-api": ("STATUS_API_KEY_SHA256",),
    "feedback-api": ("FEEDBACK_API_KEY_SHA256",),
}

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRET_WORDS = re.compile(r"SECRET|TOKEN|PASSWORD|API_KEY")


# --- reading both sides --------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    """The compose file as compose sees it (YAML merge keys resolved by PyYAML)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def settings_of(service: str) -> str:
    """The settings class a compose process or job reads."""
    return PROCESSES[service].settings if service in PROCESSES else JOBS[service][0]


def office_codes() -> list[str]:
    """Office folders under offices/ (the registry's rule: not starting with _ or .)."""
    return sorted(
        p.name
        for p in (ROOT / "offices").iterdir()
        if p.is_dir() and not p.name.startswith(("_", "."))
    )


def settings_class(path: str) -> type[Any]:
    """Import `module:Class`; a missing one fails the test with what to add."""
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        pytest.fail(f"settings module {module_name} cannot be imported ({exc}); compose needs it")
    cls = getattr(module, class_name, None)
    if cls is None:
        pytest.fail(f"{module_name} has no {class_name}; compose runs a process that reads it")
    return cls


def env_names(cls: type[Any]) -> set[str]:
    """Environment variables a pydantic-settings class reads."""
    prefix = cls.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in cls.model_fields}


def environment(service: str) -> dict[str, str]:
    """A compose service's environment as a mapping (list or mapping form)."""
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def python_sources() -> Iterator[Path]:
    """Every Python source file of the workspace members."""
    for base in SOURCE_DIRS:
        yield from (p for p in base.rglob("*.py") if ".venv" not in p.parts)


def secret_names_read_by_code() -> set[str]:
    """Office secret names the code reads: office_secret(…, "NAME") and the token hashes."""
    names: set[str] = set()
    call = re.compile(r"(office_secret|office_token_sha256)\(\s*[^()]*?,\s*\"([A-Z][A-Z0-9_]*)\"")
    for path in python_sources():
        for func, name in call.findall(path.read_text(encoding="utf-8")):
            names.add(name if func == "office_secret" else f"{name}_SHA256")
    return names


def workspace_members() -> dict[str, Path]:
    """Workspace member name -> folder, from the root pyproject's member globs."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for folder in sorted(ROOT.glob(pattern)):
            pyproject = folder / "pyproject.toml"
            if pyproject.is_file():
                name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
                members[name] = folder
    return members


def dockerfile_of(service: str) -> Path:
    """The Dockerfile compose builds a service from."""
    build = SERVICES[service]["build"]
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    return context / build.get("dockerfile", "Dockerfile")


def dockerfile_text(service: str) -> str:
    """The Dockerfile as Docker builds it for a service: `${ARG}` replaced by compose's build
    argument, else the ARG's default (the one Dockerfile serves every image)."""
    text = dockerfile_of(service).read_text(encoding="utf-8")
    args = {str(k): str(v) for k, v in (SERVICES[service]["build"].get("args") or {}).items()}
    for name, quoted, plain in re.findall(r'^ARG (\w+)(?:=(?:"([^"]*)"|(\S*)))?', text, re.M):
        args.setdefault(name, quoted or plain)
    for name, value in args.items():
        text = text.replace(f"${{{name}}}", value)
    return text


def default_command(service: str) -> list[str]:
    """The image's default argv: the exec-form CMD, or the `python -m $SERVICE_MODULE
    $SERVICE_PROCESS` that the shared Dockerfile's CMD runs."""
    text = dockerfile_text(service)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd, f"{dockerfile_of(service)}: no CMD in exec form"
    argv: list[str] = json.loads(cmd.group(1))
    if argv[:2] == ["sh", "-c"]:
        assert argv[2] == 'exec python -m "$SERVICE_MODULE" $SERVICE_PROCESS', argv
        module = re.search(r"\bSERVICE_MODULE=(\S+)", text)
        process = re.search(r"\bSERVICE_PROCESS=(\S*)", text)
        assert module and process, f"{dockerfile_of(service)}: SERVICE_MODULE/PROCESS not set"
        argv = ["python", "-m", module.group(1), *process.group(1).split()]
    return argv


def published_ports(service: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of a service's `ports:` (short syntax)."""
    result = []
    for entry in SERVICES[service].get("ports", []):
        parts = str(entry).split(":")
        assert len(parts) == 3, f"{service}: publish as IP:HOST:CONTAINER, got {entry!r}"
        result.append((parts[0], int(parts[1]), int(parts[2])))
    return result


def healthcheck_url(service: str) -> str:
    """The URL a service's healthcheck requests."""
    test = SERVICES[service]["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else test
    match = re.search(r"https?://[^'\" ]+", text)
    assert match, f"{service}: healthcheck requests no URL: {text}"
    return match.group(0)


def port_default(process: Process) -> int:
    """Default of the settings field that names the process's port."""
    cls = settings_class(process.settings)
    field = cls.model_fields.get(process.port_field)
    if field is None:
        pytest.fail(f"{process.settings} has no field {process.port_field} (the process's port)")
    return int(field.default)


def fake_value(name: str) -> str:
    """A production-looking value for a required secret."""
    if name.endswith("_SHA256"):
        return hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    return secrets.token_urlsafe(24)


def resolve(value: str) -> str:
    """Compose interpolation: required secrets get a real-looking value, defaults apply."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        if op and op.endswith("-"):
            return arg
        return fake_value(name)

    return INTERPOLATION.sub(sub, value)


def env_example() -> dict[str, str]:
    """Assignments of deploy/.env.example (comments and optional lines skipped)."""
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def all_strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) in a parsed YAML/JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from all_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_strings(item)
    elif isinstance(node, str):
        yield node


# --- the services ----------------------------------------------------------------------------


def test_compose_has_exactly_the_known_services() -> None:
    expected = set(PROCESSES) | set(JOBS) | INFRA
    assert set(SERVICES) == expected, (
        f"compose services differ from this test's table: extra {set(SERVICES) - expected}, "
        f"missing {expected - set(SERVICES)}"
    )


@pytest.mark.parametrize("service", [*PROCESSES, *JOBS])
def test_every_gerbang_variable_is_a_settings_field_or_an_office_secret(service: str) -> None:
    settings = settings_of(service)
    fields = env_names(settings_class(settings))
    offices = "|".join(code.upper() for code in office_codes())
    secret = re.compile(rf"^GERBANG_({offices})_([A-Z0-9_]+)$")
    known_secrets = secret_names_read_by_code()
    unknown = []
    for name in environment(service):
        if not name.startswith("GERBANG_") or name in fields:
            continue
        match = secret.match(name)
        if match and match.group(2) in known_secrets:
            continue
        unknown.append(name)
    assert not unknown, (
        f"{service} sets {unknown}: neither fields of {settings} nor office secrets the code "
        f"reads ({sorted(known_secrets)})"
    )


def load_with_compose_env(
    service: str, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str] | None = None
) -> Any:
    """The service's settings built from its compose environment (secrets real-looking)."""
    cls = settings_class(settings_of(service))
    for name in [n for n in os.environ if n.startswith("GERBANG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GERBANG_OFFICES_DIR", str(ROOT / "offices"))  # the image's ENV
    env = {name: resolve(value) for name, value in environment(service).items()}
    for name, value in {**env, **(overrides or {})}.items():
        monkeypatch.setenv(name, value)
    return cls()


@pytest.mark.parametrize("service", [*PROCESSES, *JOBS])
def test_compose_environment_is_a_valid_production_configuration(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert environment(service).get("GERBANG_ENVIRONMENT") == "production", service
    try:
        loaded = load_with_compose_env(service, monkeypatch)
    except ValidationError as exc:
        pytest.fail(f"{service}: {settings_of(service)} refuses the compose environment:\n{exc}")
    assert not loaded.development
    if "simulator_enabled" in type(loaded).model_fields:
        assert loaded.simulator_enabled is False, f"{service}: simulator on in production"


@pytest.mark.parametrize(("service", "names"), OFFICE_SECRETS.items())
def test_every_office_gives_each_process_its_secrets(service: str, names: tuple[str, ...]) -> None:
    env = environment(service)
    for code in office_codes():
        for name in names:
            var = f"GERBANG_{code.upper()}_{name}"
            assert var in env, f"{service} lacks {var} (office folder offices/{code})"
            assert env[var].startswith(f"${{{var}:?"), (
                f"{service}: {var} must come from deploy/.env as ${{{var}:?…}}"
            )


def test_office_secrets_go_only_to_the_processes_that_use_them() -> None:
    for service in SERVICES:
        allowed = OFFICE_SECRETS.get(service, ())
        for code in office_codes():
            prefix = f"GERBANG_{code.upper()}_"
            extra = [
                n
                for n in environment(service)
                if n.startswith(prefix) and n[len(prefix) :] not in allowed
            ]
            assert not extra, f"{service} receives {extra}, which it does not use"


def test_no_secret_has_a_default_or_a_literal_value() -> None:
    for service in SERVICES:
        for name, value in environment(service).items():
            if not SECRET_WORDS.search(name) or name.startswith("KAFKA_"):
                continue
            match = INTERPOLATION.fullmatch(value)
            assert match and match.group(2) == ":?", (
                f"{service}: {name} must be ${{{name}:?…}} (required from deploy/.env), "
                f"got {value!r}"
            )


def test_env_example_lists_exactly_the_required_variables() -> None:
    required = {
        m.group(1)
        for text in all_strings(COMPOSE)
        for m in INTERPOLATION.finditer(text)
        if m.group(2) == ":?"
    }
    assert required == set(env_example()), (
        f"deploy/.env.example vs compose's required variables: missing "
        f"{required - set(env_example())}, unused {set(env_example()) - required}"
    )


def test_env_example_placeholders_are_refused_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offices = {code.upper(): code for code in office_codes()}
    checked = 0
    for name, value in env_example().items():
        match = re.match(r"^GERBANG_([A-Z0-9]+)_([A-Z0-9_]+)$", name)
        if match and match.group(1) in offices:
            code, secret_name = offices[match.group(1)], match.group(2)
            if secret_name.endswith("_SHA256"):
                with pytest.raises(OfficeConfigError):
                    office_token_sha256(
                        code,
                        secret_name.removesuffix("_SHA256"),
                        development=False,
                        environ={name: value},
                    )
            else:
                with pytest.raises(MissingSecret):
                    office_secret(code, secret_name, development=False, environ={name: value})
            checked += 1
        elif name.startswith("GERBANG_"):
            # A settings field: every process given it must refuse the placeholder.
            field = name.removeprefix("GERBANG_").lower()
            users = [s for s in [*PROCESSES, *JOBS] if name in environment(s)]
            assert users, f"{name} is in .env.example but no process receives it"
            for service in users:
                with monkeypatch.context() as patch:
                    try:
                        load_with_compose_env(service, patch, {name: value})
                    except ValidationError as exc:
                        assert field in str(exc), exc
                    else:
                        pytest.fail(
                            f"{service}: {settings_of(service)} accepts the placeholder "
                            f"{name}={value} in production"
                        )
            checked += 1
    assert checked >= 4 * len(offices) + 2


# --- images and commands ----------------------------------------------------------------------


@pytest.mark.parametrize("service", [s for s in SERVICES if "build" in SERVICES[s]])
def test_build_context_and_dockerfile_install_a_workspace_member(service: str) -> None:
    dockerfile = dockerfile_of(service)
    assert dockerfile.is_file(), f"{service}: {dockerfile} does not exist"
    text = dockerfile_text(service)
    packages = set(re.findall(r"uv sync [^\n]*--package ([\w-]+)", text))
    members = workspace_members()
    assert len(packages) == 1, f"{dockerfile}: uv sync --package names {packages}"
    package = packages.pop()
    assert package in members, f"{dockerfile}: --package {package} is not a workspace member"
    if service in PROCESSES:
        assert package == PROCESSES[service].package
    member_dir = members[package].relative_to(ROOT).as_posix()
    assert f"COPY {member_dir} {member_dir}" in text, f"{dockerfile} does not copy {member_dir}"
    assert "--frozen" in text and "--no-dev" in text
    # uv reads the whole workspace: every member's pyproject.toml must be in the image.
    for folder in members.values():
        rel = folder.relative_to(ROOT).as_posix()
        assert f"COPY {rel}/pyproject.toml {rel}/" in text, f"{dockerfile} lacks {rel}/pyproject"
    assert re.search(r"^COPY offices /app/offices$", text, re.M), f"{dockerfile}: no offices/"
    assert re.search(r"^USER (?!root)\S+", text, re.M), f"{dockerfile}: runs as root"
    assert re.search(r"^FROM python:3\.11-slim|PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert re.search(r"COPY --from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ ", text), "pin uv"


@pytest.mark.parametrize("service", [s for s in SERVICES if "build" in SERVICES[s]])
def test_dockerfile_settings_and_default_command_are_real(service: str) -> None:
    text = dockerfile_text(service)
    base = env_names(settings_class("gerbang.settings:ServiceSettings"))
    for name in re.findall(r"\b(GERBANG_[A-Z0-9_]+)=", text):
        assert name in base, f"{dockerfile_of(service)} sets {name}, not a ServiceSettings field"
    assert "${" not in text.replace("${PYTHON_IMAGE}", ""), "a build argument compose lacks"
    argv = default_command(service)
    assert argv[:2] == ["python", "-m"]
    assert_runnable_module(argv[2], argv[3:])


def assert_runnable_module(module: str, args: list[str]) -> None:
    """`python -m module args…` would start: the package and its __main__ exist."""
    try:
        spec = importlib.util.find_spec(module)
    except ImportError as exc:
        pytest.fail(f"python -m {module}: {exc}")
    assert spec is not None, f"python -m {module}: no such package"
    assert importlib.util.find_spec(f"{module}.__main__") is not None, (
        f"python -m {module}: the package has no __main__.py"
    )
    package_dir = Path(spec.origin or "").parent
    source = "\n".join(p.read_text(encoding="utf-8") for p in package_dir.rglob("*.py"))
    for arg in args:  # a role the package does not mention is not a role it knows
        assert f'"{arg}"' in source or f"'{arg}'" in source, f"{module} knows no role {arg!r}"


@pytest.mark.parametrize("service", list(PROCESSES))
def test_process_command_runs_a_real_package(service: str) -> None:
    process = PROCESSES[service]
    command = tuple(SERVICES[service]["command"])
    assert command == process.command, f"{service}: command {command}"
    assert_runnable_module(command[2], list(command[3:]))


@pytest.mark.parametrize("job", list(JOBS))
def test_job_command_is_a_console_script_of_the_workspace(job: str) -> None:
    command = tuple(SERVICES[job]["command"])
    assert command == JOBS[job][1]
    scripts: dict[str, str] = {}
    for folder in workspace_members().values():
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
        scripts.update(project["project"].get("scripts", {}))
    assert command[0] in scripts, f"{job}: no workspace member declares script {command[0]!r}"
    module = scripts[command[0]].partition(":")[0]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{job}: {command[0]} -> {module}, not importable"
    source = Path(spec.origin).read_text(encoding="utf-8")
    for arg in command[1:]:
        assert f'"{arg}"' in source or f"'{arg}'" in source, f"{module} has no {arg!r} command"


def test_images_built_from_one_dockerfile_share_one_tag() -> None:
    by_image: dict[str, set[str]] = {}
    for service, spec in SERVICES.items():
        if "build" in spec:
            recipe = f"{dockerfile_of(service)} SERVICE={spec['build'].get('args', {})}"
            by_image.setdefault(spec["image"], set()).add(recipe)
    for image, recipes in by_image.items():
        assert len(recipes) == 1, f"{image} is built from {recipes}"


def test_dockerignore_keeps_what_images_need_and_drops_secrets() -> None:
    lines = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("offices", "libs", "services", "uv.lock", "pyproject.toml", "src"):
        assert not any(line.strip("*/") == needed for line in lines), f"{needed} is ignored"
    assert ".env" in lines and ".git" in lines


# --- ports, health, dependencies ------------------------------------------------------------


@pytest.mark.parametrize("service", list(PROCESSES))
def test_ports_match_the_settings_defaults(service: str) -> None:
    process = PROCESSES[service]
    port = port_default(process)
    url = urlsplit(healthcheck_url(service))
    assert url.port == port and url.path == "/readyz", f"{service}: healthcheck {url.geturl()}"
    ports = published_ports(service)
    if process.published:
        assert ports == [("127.0.0.1", port, port)], f"{service}: publish 127.0.0.1:{port}:{port}"
    else:
        assert ports == [], f"{service}: a worker publishes no port"


def test_every_published_port_is_on_loopback() -> None:
    for service in SERVICES:
        for host, _, _ in published_ports(service):
            assert host == "127.0.0.1", f"{service} publishes on {host}"


@pytest.mark.parametrize("service", sorted(set(SERVICES) - set(JOBS)))
def test_every_long_running_service_has_a_healthcheck(service: str) -> None:
    check = SERVICES[service].get("healthcheck") or {}
    assert check.get("test") and not check.get("disable"), f"{service}: no healthcheck"
    assert SERVICES[service].get("restart") == "unless-stopped"


def test_dependencies_wait_for_health_and_for_the_topics_job() -> None:
    for service, spec in SERVICES.items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{service} depends on unknown {dependency}"
            wanted = "service_completed_successfully" if dependency in JOBS else "service_healthy"
            assert condition == {"condition": wanted}, f"{service} -> {dependency}: {condition}"
    for service in PROCESSES:
        assert set(SERVICES[service]["depends_on"]) == {"kafka", "redis", *JOBS}, service
    for job in JOBS:
        assert SERVICES[job]["restart"] == "no"
        assert "kafka" in SERVICES[job]["depends_on"]


def test_infrastructure_images_are_pinned_and_configured() -> None:
    for service in INFRA:
        image = SERVICES[service]["image"]
        assert re.search(r":\w[\w.-]*\d", image) and not image.endswith(":latest"), image
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", SERVICES["kafka"]["image"])
    kafka = environment("kafka")
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    bootstrap = {environment(s)["GERBANG_KAFKA_BOOTSTRAP"] for s in [*PROCESSES, *JOBS]}
    assert bootstrap == {kafka["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://")}
    assert SERVICES["redis"]["image"].startswith("redis:7")
    command = SERVICES["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    redis_urls = {environment(s)["GERBANG_REDIS_URL"] for s in [*PROCESSES, *JOBS]}
    assert redis_urls == {"redis://redis:6379/0"}, "one Redis database shared by every process"


def test_broker_and_producers_agree_on_the_largest_record() -> None:
    """The producers' max_request_size and the broker's message.max.bytes are one number, in
    compose, in deploy/local/infra.sh and in the settings' default (issue 12: a record the
    producer accepts but the broker refuses was retried for ever)."""
    from gerbang.settings import ServiceSettings

    default = ServiceSettings.model_fields["kafka_max_message_bytes"].default
    shared = "${GERBANG_KAFKA_MAX_MESSAGE_BYTES:-" + str(default) + "}"
    assert environment("kafka")["KAFKA_MESSAGE_MAX_BYTES"] == shared
    for service in [*PROCESSES, *JOBS]:
        assert environment(service)["GERBANG_KAFKA_MAX_MESSAGE_BYTES"] == shared, service
    infra = (DEPLOY / "local" / "infra.sh").read_text(encoding="utf-8")
    assert f'KAFKA_MAX_MESSAGE_BYTES="{shared}"' in infra
    assert "message.max.bytes=$KAFKA_MAX_MESSAGE_BYTES" in infra


def test_topic_names_in_deploy_files_are_real_topics() -> None:
    topics = {t.value for t in Topic} | {t.dlq for t in Topic}
    name = re.compile(r"\b(?:whatsapp|faq|status|feedback)\.[a-z_]+(?:\.dlq)?\b")
    trees = [
        COMPOSE,
        yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8")),
        json.loads(DASHBOARD_FILE.read_text(encoding="utf-8")),
    ]
    for tree in trees:
        for text in all_strings(tree):
            for found in name.findall(text):
                assert found in topics, f"{found!r} is not a topic of gerbang.messages.Topic"


def test_bind_mounts_exist() -> None:
    for service, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{service}: {source} missing"


# --- Prometheus and Grafana --------------------------------------------------------------------


def test_prometheus_scrapes_every_process_on_its_port() -> None:
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    targets: dict[str, tuple[str, int]] = {}
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            continue
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for sd in job.get("dns_sd_configs", []):
            for host in sd["names"]:
                targets[job["job_name"]] = (host, int(sd["port"]))
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets[job["job_name"]] = (host, int(port))
    assert set(targets) == set(PROCESSES), f"scrape jobs {set(targets)} vs {set(PROCESSES)}"
    for job, (host, port) in targets.items():
        assert host == job and host in SERVICES, f"job {job} scrapes {host}"
        assert port == port_default(PROCESSES[job]), f"job {job} scrapes port {port}"
    workers = [s for s, p in PROCESSES.items() if not p.published]
    for service in workers:  # a worker's health server must accept Prometheus's connection
        # Inside the compose network only: no port of a worker is published on the host.
        assert environment(service).get("GERBANG_HEALTH_HOST") == "0.0.0.0", service  # noqa: S104


def grafana_datasource_uid() -> str:
    """The uid of the provisioned Prometheus datasource."""
    config = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    (source,) = config["datasources"]
    host = urlsplit(source["url"])
    assert (host.hostname, host.port) == ("prometheus", 9090)
    return str(source["uid"])


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression the dashboard runs (panels and the office variable)."""
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]
        exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def test_grafana_provisions_the_dashboard_with_the_datasource() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "gerbang.yml").read_text(encoding="utf-8")
    )
    (entry,) = provider["providers"]
    mounts = dict(str(v).rsplit(":", 2)[:2] for v in SERVICES["grafana"]["volumes"])
    assert mounts.get("./grafana/dashboards") == entry["options"]["path"]
    assert mounts.get("./grafana/provisioning") == "/etc/grafana/provisioning"
    dashboard = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    uid = grafana_datasource_uid()
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]
            assert panel["targets"], panel["title"]
    (office,) = [v for v in dashboard["templating"]["list"] if v["name"] == "office"]
    assert office["query"]["query"] == "label_values(gerbang_messages_in_total, office)"
    assert all(
        'office=~"$office"' in e
        for e in dashboard_exprs(dashboard)
        if "office" in e and "label_values" not in e
    )


def metric_definitions() -> dict[str, Path]:
    """Exported metric name -> file whose source defines it (by its name string)."""
    defined: dict[str, Path] = {}
    literal = re.compile(r"[\"'](gerbang_[a-z0-9_]+)[\"']")
    for path in python_sources():
        for name in literal.findall(path.read_text(encoding="utf-8")):
            defined.setdefault(name, path)
            if not name.endswith("_total"):  # prometheus_client adds _total to counters
                defined.setdefault(f"{name}_total", path)
    return defined


def base_metric(name: str) -> str:
    """A histogram's series name -> the name the code defines."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


def module_metrics(path: Path) -> dict[str, tuple[str, ...]]:
    """Exported names -> label names of the module-level metrics in a source file."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    module_name = ".".join(parts[parts.index("src") + 1 :])
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        pytest.fail(f"{module_name} defines dashboard metrics but cannot be imported: {exc}")
    found: dict[str, tuple[str, ...]] = {}
    for value in vars(module).values():
        if isinstance(value, Counter | Gauge | Histogram | Summary):
            name, labels = value._name, tuple(value._labelnames)
            if isinstance(value, Counter):
                found[f"{name}_total"] = labels
            elif isinstance(value, Histogram):
                found[name] = (*labels, "le")
            else:
                found[name] = labels
    return found


def test_dashboard_queries_only_metrics_and_labels_the_code_defines() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    defined = metric_definitions()
    selector = re.compile(r"\b(gerbang_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
    grouping = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
    missing: set[str] = set()
    for expr in dashboard_exprs(dashboard):
        used = selector.findall(expr)
        labels_of: dict[str, tuple[str, ...]] = {}
        for metric, matchers in used:
            name = base_metric(metric)
            if name not in defined and metric not in defined:
                missing.add(metric)
                continue
            labels = module_metrics(defined.get(name, defined.get(metric, Path()))).get(name)
            if labels is None:
                continue  # defined outside module level: the name check is what we can do
            labels_of[metric] = labels
            for matcher in filter(None, (m.strip() for m in matchers.split(","))):
                label = re.split(r"[=!~]", matcher, maxsplit=1)[0].strip()
                assert label in labels, f"{metric} has no label {label!r} (has {labels})"
        if labels_of:
            allowed = set().union(*labels_of.values())
            for group in grouping.findall(expr):
                for label in filter(None, (g.strip() for g in group.split(","))):
                    assert label in allowed, f"{expr}: no metric here has label {label!r}"
        variable = re.match(r"label_values\((\w+),\s*(\w+)\)", expr)
        if variable and variable.group(1) in labels_of:
            assert variable.group(2) in labels_of[variable.group(1)]
    assert not missing, f"the dashboard queries metrics no code defines: {sorted(missing)}"


# --- the three-broker overlay (docker-compose.kafka3.yml) ------------------------------------

KAFKA3_FILE = DEPLOY / "docker-compose.kafka3.yml"
KAFKA3: dict[str, dict[str, Any]] = yaml.safe_load(KAFKA3_FILE.read_text(encoding="utf-8"))[
    "services"
]
BROKERS = ("kafka", "kafka-2", "kafka-3")


def merged_environment(service: str) -> dict[str, str]:
    """A service's environment as compose merges the overlay onto the base file."""
    base = environment(service) if service in SERVICES else {}
    overlay = KAFKA3.get(service, {}).get("environment") or {}
    return base | {str(k): str(v) for k, v in overlay.items()}


def test_three_broker_overlay_is_one_kraft_quorum_that_every_process_knows() -> None:
    assert set(KAFKA3) - set(SERVICES) == {"kafka-2", "kafka-3"}, "only brokers are added"
    brokers = {name: merged_environment(name) for name in BROKERS}
    ids = {name: env["KAFKA_NODE_ID"] for name, env in brokers.items()}
    assert sorted(ids.values()) == ["1", "2", "3"]
    voters = ",".join(f"{ids[name]}@{name}:9093" for name in BROKERS)
    advertised = set()
    for name, env in brokers.items():
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters, name
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", name
        assert env["CLUSTER_ID"] == environment("kafka")["CLUSTER_ID"], "one cluster"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert env["KAFKA_MESSAGE_MAX_BYTES"] == environment("kafka")["KAFKA_MESSAGE_MAX_BYTES"]
        for internal in ("OFFSETS_TOPIC", "TRANSACTION_STATE_LOG", "SHARE_COORDINATOR_STATE_TOPIC"):
            assert env[f"KAFKA_{internal}_REPLICATION_FACTOR"] == "3", (name, internal)
        advertised.add(env["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://"))
    for service in [*PROCESSES, *JOBS]:
        bootstrap = set(merged_environment(service)["GERBANG_KAFKA_BOOTSTRAP"].split(","))
        assert bootstrap == advertised, f"{service} does not know every broker"


def test_three_broker_overlay_replicates_topics_as_the_brokers_require() -> None:
    topics_env = merged_environment("topics")
    module, _, name = JOBS["topics"][0].partition(":")
    settings_cls = getattr(importlib.import_module(module), name)
    assert {"GERBANG_TOPIC_REPLICATION_FACTOR", "GERBANG_TOPIC_MIN_INSYNC_REPLICAS"} <= env_names(
        settings_cls
    )
    settings = settings_cls(
        topic_replication_factor=topics_env["GERBANG_TOPIC_REPLICATION_FACTOR"],
        topic_min_insync_replicas=topics_env["GERBANG_TOPIC_MIN_INSYNC_REPLICAS"],
    )
    broker = merged_environment("kafka")
    assert settings.topic_replication_factor == len(BROKERS)
    assert settings.topic_replication_factor == int(broker["KAFKA_DEFAULT_REPLICATION_FACTOR"])
    assert settings.topic_min_insync_replicas == int(broker["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
    waits_for = set(SERVICES["topics"]["depends_on"]) | set(KAFKA3["topics"]["depends_on"])
    assert set(BROKERS) <= waits_for, "topics are created once every broker is up"
