"""Deployment files agree with the code: docker-compose.yml, deploy/Dockerfile, deploy/k8s/*.yaml.

Everything is parsed, nothing is run: no Docker, Kubernetes, broker or database.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from casekit import healthcheck, launcher


class Loader(yaml.SafeLoader):
    """SafeLoader without the ${VAR:default} substitution that `nameko test` installs on it."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "!env_var"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
RAW = yaml.load((ROOT / "docker-compose.yml").read_text(), Loader)  # noqa: S506 - a SafeLoader
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
K8S = [d for p in sorted(K8S_DIR.glob("*.yaml")) for d in yaml.load_all(p.read_text(), Loader) if d]
DEPLOYMENTS = {d["metadata"]["name"]: d for d in K8S if d["kind"] == "Deployment"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN|ROOT_USER")
LOCAL = re.compile(r"127\.|localhost")  # a default that only works on a developer's machine
TOKEN = re.compile(r"\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?[-?+])([^}$]*))?\}|([A-Za-z_]\w*))")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${...} rules; ValueError for a malformed reference or a missing required one."""
    out, pos = [], 0
    while (at := text.find("$", pos)) >= 0:
        if not (m := TOKEN.match(text, at)):
            raise ValueError(f"malformed interpolation at {text[at : at + 30]!r}")
        escape, name, op, arg, bare = m.groups()
        value = env.get(name or bare or "")
        unset = value is None or (not value and op and op.startswith(":"))
        if op in (":?", "?") and unset:
            raise ValueError(f"{name} is required: {arg}")
        sub = "$" if escape else arg if op in (":-", "-") and unset else value or ""
        out += [text[pos:at], (arg if value else "") if op in (":+", "+") else sub]
        pos = m.end()
    return "".join(out) + text[pos:]


def walk(node, fn):
    if isinstance(node, dict):
        return {k: walk(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, fn) for v in node]
    return fn(node) if isinstance(node, str) else node


def strings(node) -> list[str]:
    out: list[str] = []
    walk(node, out.append)
    return out


REQUIRED = {m[2] for s in strings(RAW) for m in TOKEN.finditer(s) if m[3] in (":?", "?")}
FAKE_SECRETS = {name: "secret-" + name.lower().replace("_", "-") for name in REQUIRED}
SERVICES = walk(RAW, lambda s: interpolate(s, FAKE_SECRETS))["services"]
PYTHON = {name: s for name, s in SERVICES.items() if "build" in s}


def test_interpolation_is_well_formed_and_required_variables_say_why() -> None:
    assert interpolate("a$${B}-${C:-d}-${E:?need E}-${E:+set}", {"E": "e"}) == "a${B}-d-e-set"
    for bad in ("${VAR:default}", "${VAR", "$ alone", "${1X}", "${E:?need it}"):
        with pytest.raises(ValueError):
            interpolate(bad, {"E": ""})
    assert {"JWT_SECRET", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"} <= REQUIRED
    for m in (m for s in strings(RAW) for m in TOKEN.finditer(s)):
        assert m[3] not in (":?", "?") or m[4].strip(), f"{m[0]} has no message"


# ------------------------------------------------------------------ commands
def command_problems(argv: list[str]) -> list[str]:
    """What a process command names that does not exist: modules, config files, the WSGI object."""
    exe, args = Path(argv[0]).name, list(argv[1:])
    files, modules, problems = [], [], []
    if exe == "nameko" and args[:1] == ["run"]:
        files, modules = [args[args.index("--config") + 1]] if "--config" in args else [], [args[-1]]
    elif re.fullmatch(r"python[\d.]*", exe) and args[:1] == ["-m"]:
        modules = [args[1]]
    elif exe == "gunicorn":
        module, _, obj = args[-1].partition(":")
        files, modules = [args[args.index("-c") + 1]] if "-c" in args else [], [module]
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.is_file() or not re.search(rf"^{re.escape(obj)}\s*=", path.read_text(), re.M):
            problems.append(f"{module} defines no {obj}")
    else:
        raise ValueError(f"unknown kind of command: {argv}")
    problems += [f"missing file {f}" for f in files if not (ROOT / f).is_file()]
    for module in modules:
        with contextlib.suppress(ModuleNotFoundError):
            if importlib.util.find_spec(module):
                continue
        problems.append(f"missing module {module}")
    return problems


def test_the_command_parser_rejects_what_does_not_exist() -> None:
    ok = ["nameko", "run", "--config", "services/cases/config.yml", "services.cases.service"]
    assert command_problems(ok) == []
    assert command_problems([*ok[:3], "services/nope/config.yml", ok[4]])
    assert command_problems([*ok[:4], "services.nope.service"])
    assert command_problems(["/usr/bin/python3.11", "-m", "casekit.no_such_module"])
    assert command_problems(["gunicorn", "-c", "deploy/gunicorn.conf.py", "gateway.wsgi:nothing"])
    assert command_problems(["gunicorn", "-c", "deploy/nope.py", "gateway.wsgi:application"])
    with pytest.raises(ValueError):
        command_problems(["bash", "-c", "true"])


def expected_commands() -> dict[str, list[str]]:
    """Every process casekit.launcher starts that is deployed (all but the development-only ones),
    with the executable named as the image's PATH finds it."""

    def exe(path: str) -> str:
        return re.sub(r"^python[\d.]*$", "python", Path(path).name)

    return {s.name: [exe(s.argv[0]), *s.argv[1:]] for s in launcher.all_specs() if s.deployed}


# processes whose health is not "python -m casekit.healthcheck <their name>"
LISTENING = "import socket; socket.create_connection(('127.0.0.1', 2525), 3).close()"
HEALTH = {
    "dispatcher": ["python", "-m", "casekit.healthcheck", "relay", "--service", "notifications"],
    "smtp-in": ["python", "-c", LISTENING],
}


def health_command(process: str) -> list[str]:
    if process in HEALTH:
        return HEALTH[process]
    relay = process.removeprefix("relay-")
    target = ["relay", "--service", relay] if relay != process else [process]
    return ["python", "-m", "casekit.healthcheck", *target]


def missing_processes(expected: set[str], compose: dict, deployments: dict) -> list[str]:
    """Deployed launcher processes that docker-compose.yml or deploy/k8s does not run."""
    return [f"{name} is not in docker-compose.yml" for name in sorted(expected - set(compose))] + [
        f"{name} has no Deployment in deploy/k8s" for name in sorted(expected - set(deployments))
    ]


def test_every_process_the_launcher_starts_is_deployed_by_compose_and_k8s() -> None:
    started = {s.name for s in launcher.all_specs()}
    assert set(expected_commands()) == started - launcher.DEVELOPMENT_ONLY
    assert started >= launcher.DEVELOPMENT_ONLY, "a development-only process the launcher no longer starts"
    assert {"webhooks", "smtp-in", "dispatcher", "gateway", "relay-cases"} <= set(expected_commands())
    assert missing_processes(set(expected_commands()), SERVICES, DEPLOYMENTS) == []
    for name in launcher.DEVELOPMENT_ONLY:  # the mail sink stands in for a real relay: never deployed
        assert name not in SERVICES and name not in DEPLOYMENTS, name
    # the check itself: a launcher process missing from either file is named
    without = {k: v for k, v in DEPLOYMENTS.items() if k != "webhooks"}
    assert missing_processes({"webhooks", "cases"}, {"cases": {}}, without) == [
        "webhooks is not in docker-compose.yml",
        "webhooks has no Deployment in deploy/k8s",
    ]


def test_compose_runs_every_launcher_process_with_its_command_and_own_health_check() -> None:
    expected = expected_commands()
    assert {*launcher.SERVICES, *(f"relay-{n}" for n in launcher.RELAYS), "gateway"} <= set(expected)
    for name, argv in expected.items():
        assert SERVICES[name]["command"] == argv, name
        assert SERVICES[name]["healthcheck"]["test"] == ["CMD", *health_command(name)], name
    assert command_problems(health_command("cases")) == []
    for name, service in PYTHON.items():
        assert command_problems(service["command"]) == [], name


# ------------------------------------------------------------------ environment
def python_reads(path: Path, fill: str = "") -> dict[str, object]:
    """Variables read by os.environ[...], os.environ.get(...) or a helper such as _int(name, default)
    that passes its first argument to os.environ.get, with defaults (None: none)."""
    tree = ast.parse(path.read_text())
    funcs = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.args.args]
    readers = {"os.environ.get"} | {
        f.name for f in funcs if f"environ.get({f.args.args[0].arg}" in ast.unparse(f)
    }

    def default_of(expr: ast.expr, cls: ast.ClassDef | None) -> object:
        try:
            return ast.literal_eval(expr)
        except ValueError:  # e.g. cls.db_url: evaluate it in the imported module
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            scope = {**vars(module), "cls": getattr(module, cls.name) if cls else None}
            try:
                return eval(compile(ast.Expression(expr), str(path), "eval"), scope)
            except NameError:  # computed from a local, e.g. "1" if development else "0"
                return f"<{ast.unparse(expr)}>"

    found: dict[str, object] = {}
    for cls in [*(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)), None]:  # classes first
        for node in ast.walk(cls or tree):
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key, default = node.slice, None
            elif isinstance(node, ast.Call) and node.args and ast.unparse(node.func) in readers:
                key, default = node.args[0], (node.args[1:] or [None])[0]
            else:
                continue
            if isinstance(key, ast.JoinedStr) and fill:  # f"{service.upper()}_DB_URL"
                parts = [v.value if isinstance(v, ast.Constant) else fill.upper() for v in key.values]
                key = ast.Constant("".join(parts))
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value not in found:
                found[key.value] = None if default is None else default_of(default, cls)
    return found


def needs_value(name: str, default: object) -> bool:
    """No default, or one that only works on a developer's machine."""
    text = "" if default is None else str(default)
    return not text or name.endswith("_DIR") or text == "development" or bool(LOCAL.search(text))


def required_env(process: str) -> set[str]:
    if process in launcher.SERVICES:
        config = (ROOT / "services" / process / "config.yml").read_text()
        reads = {m[1]: m[2] for m in re.finditer(r"\$\{([A-Z][A-Z0-9_]*)(?::([^}]*))?\}", config)}
    elif process.startswith("relay-"):
        reads = python_reads(ROOT / "casekit" / "relay.py", fill=process.removeprefix("relay-"))
    elif process in dict(launcher.ADAPTERS):
        module = dict(launcher.ADAPTERS)[process]
        reads = python_reads(ROOT / "services" / "notifications" / "adapters" / f"{module}.py")
    elif process == "webhooks":
        reads = python_reads(ROOT / "gateway" / "webhooks" / "__main__.py")
        reads |= python_reads(ROOT / "gateway" / "webhooks" / "dispatcher.py")
    else:
        reads = python_reads(ROOT / "gateway" / "settings.py")
        if process == "gateway":
            reads |= python_reads(ROOT / "deploy" / "gunicorn.conf.py")
    return {name for name, default in reads.items() if needs_value(name, default)}


def test_required_variables_are_discovered_from_the_code() -> None:
    assert {"AMQP_URI", "CASES_DB_URL"} <= required_env("cases")
    assert "SEARCH_DATA_DIR" in required_env("search") and "SEARCH_ENGINE" not in required_env("search")
    assert {"AMQP_URI", "ROUTING_DB_URL"} <= required_env("relay-routing")
    gateway = required_env("gateway")
    assert {"JWT_SECRET", "GATEWAY_DB_URL", "AMQP_URI", "GATEWAY_BIND", "CASEWORK_ENV"} <= gateway
    assert "ACCESS_TOKEN_TTL" not in gateway
    webhooks = required_env("webhooks")
    assert {"GATEWAY_DB_URL", "AMQP_URI", "CASEWORK_ENV"} <= webhooks and "JWT_SECRET" not in webhooks
    assert "WEBHOOK_ALLOW_PRIVATE" not in webhooks  # its default is computed: production refuses
    assert needs_value("X_DB_URL", "postgresql://a@127.0.0.1/x") and not needs_value("MAX_WORKERS", "20")


@pytest.mark.parametrize("name", sorted(PYTHON))
def test_compose_sets_every_variable_a_process_needs(name: str) -> None:
    env, volumes = SERVICES[name].get("environment", {}), SERVICES[name].get("volumes", [])
    for var in required_env(name):
        value = env.get(var)
        assert value and not LOCAL.search(value), f"{name}: {var}={value!r}"
        on_volume = any(value.startswith(v.split(":")[1]) for v in volumes)
        assert on_volume or not var.endswith("_DIR"), f"{name}: {var} is not on a volume"
        if "://" in value:
            assert urlsplit(value).hostname in SERVICES, f"{name}: {var} points at an unknown host"


def test_connection_strings_match_the_infrastructure() -> None:
    pg, mq = SERVICES["postgres"]["environment"], SERVICES["rabbitmq"]["environment"]
    created = pg["CASEWORK_DATABASES"].split()
    assert created == [f"casework_{name}" for name in launcher.SQL_DATABASES]
    seen: dict[str, tuple[str, str]] = {}
    for name, service in PYTHON.items():
        for var, value in service.get("environment", {}).items():
            first = seen.setdefault(var, (name, value))  # one value per variable, everywhere
            assert value == first[1], f"{var} differs between {first[0]} and {name}"
            url = urlsplit(value or "")
            if var.endswith("_DB_URL"):
                assert (url.username, url.password) == (pg["CASEWORK_DB_USER"], pg["CASEWORK_DB_PASSWORD"])
                assert url.path.lstrip("/") in created, f"{name}: {var}"
            if var == "AMQP_URI":
                user = [mq["RABBITMQ_DEFAULT_USER"], mq["RABBITMQ_DEFAULT_PASS"]]
                assert [url.username, url.password] == user


def test_documents_and_search_get_the_backends_settings() -> None:
    docs, search = SERVICES["documents"]["environment"], SERVICES["search"]["environment"]
    assert {"S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"} <= set(docs)
    assert urlsplit(docs["S3_ENDPOINT"]).hostname == "minio" and docs["DOCUMENTS_BACKEND"] == "local"
    assert urlsplit(search["ELASTICSEARCH_URL"]).hostname == "elasticsearch"
    assert search["SEARCH_ENGINE"] == "embedded"
    assert "xpack.security.enabled" in SERVICES["elasticsearch"]["environment"]


def secret_problems(services: dict) -> list[str]:
    """Secrets come from ${VAR:?...} (or pass through from the shell), never a literal or a default."""
    problems = []
    for name, service in services.items():
        for var, value in (service.get("environment") or {}).items():
            whole = TOKEN.fullmatch(str(value))
            if SECRET_NAME.search(var) and value is not None and not (whole and whole[3] == ":?"):
                problems.append(f"{name}: {var}")
        for m in (m for s in strings(service) for m in TOKEN.finditer(s)):
            if m[2] and SECRET_NAME.search(m[2]) and m[3] != ":?":
                problems.append(f"{name}: {m[0]}")
    return problems


def test_secrets_are_required_variables_never_literals() -> None:
    assert secret_problems(RAW["services"]) == []
    bad = {"db": {"environment": {"POSTGRES_PASSWORD": "casework", "X": "${JWT_SECRET:-dev}"}}}
    assert secret_problems(bad) == ["db: POSTGRES_PASSWORD", "db: ${JWT_SECRET:-dev}"]
    for value in (v for s in PYTHON.values() for v in s.get("environment", {}).values() if v):
        if urlsplit(value).password:  # passwords inside URLs come from secret variables too
            assert urlsplit(value).password in FAKE_SECRETS.values(), value


# ------------------------------------------------------------------ health and scaling
def dependency_problems(services: dict) -> list[str]:
    problems = []
    for name, service in services.items():
        deps = service.get("depends_on", {})
        for dep in deps:
            if not isinstance(deps, dict) or (deps[dep] or {}).get("condition") != "service_healthy":
                problems.append(f"{name} -> {dep}: not service_healthy")
            if "healthcheck" not in services.get(dep, {}):
                problems.append(f"{name} -> {dep}: no healthcheck")
    return problems


def test_dependencies_wait_for_health_and_everything_has_a_check() -> None:
    assert dependency_problems(SERVICES) == []
    assert dependency_problems({"a": {"depends_on": ["b"]}, "b": {"healthcheck": {}}}) != []
    assert dependency_problems({"a": {"depends_on": {"b": {"condition": "service_healthy"}}}, "b": {}}) != []
    for name, service in SERVICES.items():
        if "profiles" not in service:  # one-shot jobs behind a profile need none
            assert service.get("healthcheck", {}).get("test", ["NONE"])[0] != "NONE", name


def test_services_can_scale() -> None:
    for name, service in SERVICES.items():
        assert "container_name" not in service and "links" not in service, name
        if name in PYTHON and name not in ("gateway", "smtp-in"):  # the two that listen on host ports
            assert "ports" not in service and "hostname" not in service, name
    assert SERVICES["search"]["deploy"]["replicas"] == 1
    assert "ONE replica" in (ROOT / "docker-compose.yml").read_text()


def test_postgres_init_script_creates_the_databases() -> None:
    (mount,) = [v for v in SERVICES["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    script = ROOT / mount.split(":")[0]
    assert script.is_file() and os.access(script, os.X_OK)
    assert re.search(r'for db in \$CASEWORK_DATABASES\b.*\nCREATE DATABASE :"db"', script.read_text(), re.S)


# ------------------------------------------------------------------ image
def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore: the last matching pattern wins; a match on a directory covers what is in it."""
    verdict = False
    for pattern in patterns:
        rx = re.escape(pattern.lstrip("!").strip("/")).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(rx.replace(r"\[", "[").replace(r"\]", "]") + "(?:/.*)?", path):
            verdict = not pattern.startswith("!")
    return verdict


def test_the_image_gets_the_code_every_command_uses() -> None:
    text = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [ln.strip() for ln in text if ln.strip() and not ln.startswith("#")]
    copied = {m[1].rstrip("/") for m in re.finditer(r"^COPY (?!--from)(\S+) ", DOCKERFILE, re.M)}
    argvs = [s["command"] for s in PYTHON.values()] + [health_command("x")]
    used = {re.split(r"[./]", a)[0] for argv in argvs for a in argv[1:] if re.match(r"[a-z]+[./]\w", a)}
    assert {"casekit", "services", "gateway", "deploy"} == used and used <= copied
    skip = ("casekit/testing", "deploy/k8s", "deploy/Dockerfile")
    for path in (p for top in used for p in (ROOT / top).rglob("*") if p.is_file()):
        rel = path.relative_to(ROOT).as_posix()
        assert "__pycache__" in rel or rel.startswith(skip) or not ignored(rel, patterns), f"{rel} left out"
    private = (".env", ".git/config", ".venv/bin/x", "tests/conftest.py", "run/x", "services/a/.env")
    for path in (*private, "casekit/testing/infra.py"):  # and test support stays out of the image
        assert ignored(path, patterns), path
    assert ignored("a/b.py", ["*"]) and not ignored("a/b.py", ["*", "!a/"])


def test_the_image_is_slim_multi_stage_hashed_and_unprivileged() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE, re.M)
    assert len(re.findall(r"^FROM ", DOCKERFILE, re.M)) >= 2
    assert "--require-hashes" in DOCKERFILE and "--extra dev" not in DOCKERFILE and "[dev]" not in DOCKERFILE
    assert re.findall(r"^USER (\S+)", DOCKERFILE, re.M)[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^WORKDIR /app", DOCKERFILE, re.M) and "PYTHONPATH=/app" in DOCKERFILE


def runtime_closure() -> set[str]:
    """pyproject's runtime dependencies and theirs, from the installed metadata."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(d) for d in project["dependencies"]]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        req = todo.pop()
        if (key := (canonicalize_name(req.name), frozenset(req.extras))) in seen:
            continue
        seen.add(key)
        for sub in map(Requirement, metadata.requires(req.name) or []):
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in req.extras or {""}):
                todo.append(sub)
    return {name for name, _ in seen}


def test_the_image_installs_the_runtime_closure_of_the_lock_and_no_dev_tools(tmp_path: Path) -> None:
    (script,) = re.findall(r"^RUN python - <<'EOF'\n(.*?)\nEOF$", DOCKERFILE, re.M | re.S)
    for name in ("pyproject.toml", "requirements.lock"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run([sys.executable, "-"], input=script, text=True, cwd=tmp_path, check=True, timeout=60)
    blocks = re.split(r"\n(?=\S)", (tmp_path / "requirements.prod.txt").read_text().strip())
    pinned = {canonicalize_name(b.split("==")[0]) for b in blocks}
    assert all("--hash=sha256:" in b for b in blocks)
    assert runtime_closure() <= pinned
    assert not pinned & {"pytest", "ruff", "moto", "hypothesis", "import-linter", "pytest-timeout"}


# ------------------------------------------------------------------ kubernetes
def container(name: str) -> dict:
    (only,) = DEPLOYMENTS[name]["spec"]["template"]["spec"]["containers"]
    return only


def test_k8s_lists_every_manifest_and_runs_every_launcher_process() -> None:
    (kustomization,) = [d for d in K8S if d["kind"] == "Kustomization"]
    manifests = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    for name, argv in expected_commands().items():
        assert container(name)["command"] == argv, name
        assert command_problems(argv) == []
    assert {container(n)["image"] for n in DEPLOYMENTS} == {"casework"}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_k8s_deployments_get_their_settings_volumes_and_probes(name: str) -> None:
    configs = {d["metadata"]["name"]: d["data"] for d in K8S if d["kind"] == "ConfigMap"}
    deployment, c = DEPLOYMENTS[name]["spec"], container(name)
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in c.get("env", [])}
    env = {k: v for ref in c.get("envFrom", []) for k, v in configs[ref["configMapRef"]["name"]].items()}
    for var in required_env(name):
        assert (env | secrets).get(var), f"{name} does not set {var}"
        paths = [m["mountPath"] for m in c["volumeMounts"]]
        assert env.get(var) in paths or not var.endswith("_DIR"), f"{name}: {var} is not on a volume"
    documented = (K8S_DIR / "kustomization.yaml").read_text()  # the `kubectl create secret` example
    assert all(f"--from-literal={key}=" in documented for key in secrets.values())
    if name == "gateway":
        assert c["livenessProbe"]["httpGet"]["path"] == c["readinessProbe"]["httpGet"]["path"] == "/healthz"
    else:
        assert c["readinessProbe"]["exec"]["command"] == health_command(name)
    volumes = deployment["template"]["spec"]["volumes"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v}
    assert claims <= {d["metadata"]["name"] for d in K8S if d["kind"] == "PersistentVolumeClaim"}
    if name in ("search", "documents"):  # one pod at a time on a ReadWriteOnce volume
        assert claims and deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"


# ------------------------------------------------------------------ casekit.healthcheck
def test_healthcheck_judges_the_rpc_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import nameko.standalone.rpc

    def proxy(config: dict, timeout: float) -> contextlib.AbstractContextManager:
        assert config == {"AMQP_URI": "pyamqp://u:p@broker:5672/"} and timeout == 5.0
        replies = {"cases": {"ok": True}, "routing": {"ok": False}, "search": "ok"}
        return contextlib.nullcontext({k: SimpleNamespace(health=lambda r=r: r) for k, r in replies.items()})

    monkeypatch.setattr(nameko.standalone.rpc, "ClusterRpcProxy", proxy)
    monkeypatch.setenv("AMQP_URI", "pyamqp://u:p@broker:5672/")
    assert [healthcheck.main([name]) for name in ("cases", "routing", "search")] == [0, 1, 1]


def test_healthcheck_fails_without_a_database_or_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASES_DB_URL", raising=False)
    assert healthcheck.main(["relay", "--service", "cases"]) == 1
    monkeypatch.setenv("CASES_DB_URL", "postgresql+psycopg2://u:p@127.0.0.1:1/none")
    assert healthcheck.main(["relay", "--service", "cases", "--timeout", "2"]) == 1
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    assert healthcheck.main(["webhooks"]) == 1
    monkeypatch.setenv("GATEWAY_DB_URL", "postgresql+psycopg2://u:p@127.0.0.1:1/none")
    assert healthcheck.main(["webhooks", "--timeout", "2"]) == 1
    monkeypatch.setenv("GATEWAY_BIND", "0.0.0.0:1")
    assert healthcheck.main(["gateway", "--timeout", "2"]) == 1
    assert healthcheck.gateway_url("0.0.0.0:8000") == "http://127.0.0.1:8000/healthz"
    with pytest.raises(SystemExit) as usage:  # exit code 2 is reserved by Docker
        healthcheck.main(["relay"])
    assert usage.value.code == 1
