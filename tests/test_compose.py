"""docker-compose.yml is checked structurally (no Docker engine runs in CI), and its secret check is run."""

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO

COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
SECRETS = ("AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "POSTGRES_PASSWORD", "AIRFLOW_ADMIN_PASSWORD")
CONTAINER_NAMES = {"AIRFLOW_JWT_SECRET": "AIRFLOW__API_AUTH__JWT_SECRET",
                   "AIRFLOW_FERNET_KEY": "AIRFLOW__CORE__FERNET_KEY", "POSTGRES_PASSWORD": "POSTGRES_PASSWORD",
                   "AIRFLOW_ADMIN_PASSWORD": "AIRFLOW_ADMIN_PASSWORD"}
LONG_RUNNING = AIRFLOW_SERVICES[1:]
COMPOSE_VARIABLE = r"(?<!\$)\$\{(\w+)"
"""A variable compose substitutes; `$${X}` is a literal `${X}` for the container's shell."""
CHECK_SECRETS = REPO / "deploy" / "check-secrets.sh"


def env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def good_secrets() -> dict[str, str]:
    return {"AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32), "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
            "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(16)}


class MissingVariable(Exception):
    pass


def interpolate(env: dict[str, str], node=COMPOSE):
    """The compose file as `docker compose config` reads it with this .env: ${V}, ${V:-default}, ${V:?error}.

    Like compose, it substitutes in the parsed values, so a value such as @hourly never meets the YAML parser.
    """
    def value(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        current = env.get(name, "")
        if operator == ":?" and not current:
            raise MissingVariable(f"{name}: {argument}")
        return current or (argument if operator == ":-" else "")

    if isinstance(node, dict):
        return {key: interpolate(env, item) for key, item in node.items()}
    if isinstance(node, list):
        return [interpolate(env, item) for item in node]
    if not isinstance(node, str):
        return node
    return re.sub(r"(?<!\$)\$\{(\w+)(?:(:[-?])([^}]*))?\}", value, node).replace("$$", "$")


def init_environment(env: dict[str, str]) -> dict:
    return interpolate(env)["services"]["airflow-init"]["environment"]


def run_check_secrets(environment: dict) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], **{name: str(value) for name, value in environment.items()}}
    return subprocess.run(["bash", str(CHECK_SECRETS)], env=env, capture_output=True, text=True)


def test_has_the_official_airflow_shape():
    assert {"postgres", "redis", *AIRFLOW_SERVICES} <= set(COMPOSE["services"])


def test_airflow_services_share_the_data_volume_and_use_celery():
    for name in AIRFLOW_SERVICES:
        service = COMPOSE["services"][name]
        assert "news-data:/opt/news/data" in service["volumes"]
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def volume_sources() -> set[str]:
    return {re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", v).split(":")[0]
            for s in COMPOSE["services"].values() for v in s.get("volumes", [])}


def test_named_volumes_are_declared():
    named = {source for source in volume_sources() if not source.startswith((".", "/"))}
    assert named <= set(COMPOSE["volumes"])


def test_bind_mounts_default_to_folders_of_the_repo():
    binds = {source for source in volume_sources() if source.startswith(".")}
    assert binds == {"./seeds"}
    assert all((REPO / source).is_dir() for source in binds)


def test_every_variable_the_compose_file_reads_is_in_env_example():
    wanted = set(re.findall(COMPOSE_VARIABLE, COMPOSE_TEXT))
    assert wanted <= set(env_example())


def test_env_file_itself_is_not_committed():
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_every_use_of_a_secret_requires_it():
    uses = re.findall(rf"(?<!\$)\$\{{({'|'.join(SECRETS)})([^}}]*)\}}", COMPOSE_TEXT)
    assert {name for name, _ in uses} == set(SECRETS)
    assert all(rest.startswith(":?") for _, rest in uses), uses


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_stops_when_a_secret_is_empty(secret):
    with pytest.raises(MissingVariable, match=f"^{secret}: {secret} is empty"):
        interpolate({**env_example(), secret: ""})


def test_the_api_is_published_on_localhost_unless_configured():
    default = {name: value for name, value in env_example().items() if name != "AIRFLOW_API_BIND"}
    assert interpolate(default)["services"]["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    assert env_example()["AIRFLOW_API_BIND"] == "127.0.0.1"
    exposed = {**env_example(), "AIRFLOW_API_BIND": "0.0.0.0"}
    assert interpolate(exposed)["services"]["airflow-apiserver"]["ports"] == ["0.0.0.0:8080:8080"]
    assert [name for name, service in COMPOSE["services"].items() if "ports" in service] == ["airflow-apiserver"]


def test_the_api_server_writes_its_password_file_under_umask_077():
    service = COMPOSE["services"]["airflow-apiserver"]
    assert service["entrypoint"] == "/bin/bash"
    assert re.fullmatch(r"umask 077 && python /opt/news/deploy/write_admin_password.py && exec airflow api-server",
                        service["command"][-1])


def test_the_admin_password_is_the_one_in_env(tmp_path):
    environment = interpolate({**env_example(), **good_secrets(), "AIRFLOW_ADMIN_USER": "editor"})
    api_server = environment["services"]["airflow-apiserver"]["environment"]
    target = tmp_path / "passwords.json"
    env = {"PATH": os.environ["PATH"], "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(target),
           "AIRFLOW_ADMIN_USER": api_server["AIRFLOW_ADMIN_USER"],
           "AIRFLOW_ADMIN_PASSWORD": api_server["AIRFLOW_ADMIN_PASSWORD"]}
    subprocess.run([sys.executable, str(REPO / "deploy" / "write_admin_password.py")], env=env, check=True,
                   capture_output=True)
    assert json.loads(target.read_text()) == {"editor": api_server["AIRFLOW_ADMIN_PASSWORD"]}
    assert api_server["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "editor:admin"
    assert api_server["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == (
        "/opt/airflow/simple_auth_manager_passwords.json")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck_the_image_can_run(name):
    """The slim image has python, airflow and celery, not curl; a start period lets the first start pass."""
    check = COMPOSE["services"][name]["healthcheck"]
    command = " ".join(check["test"][1:])
    assert command.split()[0] in {"python", "airflow", "celery"}, command
    assert "curl" not in command and "wget" not in command
    assert check["start_period"] and check["retries"] >= 3 and check["timeout"]
    if command.startswith(("airflow jobs check", "celery")):
        assert '"$${HOSTNAME}"' in COMPOSE_TEXT and "${HOSTNAME}" in interpolate(
            {**env_example(), **good_secrets()})["services"][name]["healthcheck"]["test"][1]


def test_workers_have_a_memory_limit_and_a_concurrency_to_match():
    worker = interpolate({**env_example(), **good_secrets()})["services"]["airflow-worker"]
    assert worker["deploy"]["resources"]["limits"]["memory"] == env_example()["WORKER_MEMORY"] == "4g"
    assert worker["environment"]["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == env_example()["CELERY_WORKER_CONCURRENCY"]


def test_airflow_init_checks_the_secrets_before_anything_else():
    init = COMPOSE["services"]["airflow-init"]
    assert init["entrypoint"] == "/bin/bash"
    assert init["command"][-1].startswith("bash /opt/news/deploy/check-secrets.sh && airflow db migrate")
    assert "COPY deploy ./deploy" in (REPO / "Dockerfile").read_text()


def test_every_other_airflow_service_waits_for_airflow_init():
    for name in AIRFLOW_SERVICES[1:]:
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name


def test_the_secret_check_refuses_the_env_example_values():
    done = run_check_secrets(init_environment(env_example()))
    assert done.returncode == 1
    assert all(f"check-secrets: {secret} in .env is still the example value" in done.stderr for secret in SECRETS)


def test_the_secret_check_passes_generated_values():
    done = run_check_secrets(init_environment({**env_example(), **good_secrets()}))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize(("secret", "value", "reason"), [
    ("AIRFLOW_JWT_SECRET", "", "is empty"),
    ("AIRFLOW_JWT_SECRET", "change-me-too", "is still the example value"),
    ("AIRFLOW_JWT_SECRET", "CHANGE-ME-" + "x" * 40, "is still the example value"),
    ("AIRFLOW_JWT_SECRET", "short-but-random-0123", "shorter than 32"),
    ("POSTGRES_PASSWORD", "change-me", "is still the example value"),
    ("POSTGRES_PASSWORD", "airflow", "shorter than 16"),
    ("AIRFLOW_FERNET_KEY", "", "is empty"),
    ("AIRFLOW_FERNET_KEY", "x" * 44, "is not a Fernet key"),
    ("AIRFLOW_FERNET_KEY", "change-me", "is still the example value"),
    ("AIRFLOW_ADMIN_PASSWORD", "change-me-admin", "is still the example value"),
    ("AIRFLOW_ADMIN_PASSWORD", "admin", "shorter than 12"),
])
def test_the_secret_check_refuses_one_bad_value(secret, value, reason):
    good = good_secrets()
    environment = {CONTAINER_NAMES[name]: good[name] for name in SECRETS}
    done = run_check_secrets({**environment, CONTAINER_NAMES[secret]: value})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [line for line in done.stderr.splitlines() if f" {secret} in .env " in line]
    assert reason in done.stderr


def test_the_secret_check_accepts_a_rotated_fernet_key_list():
    good = good_secrets()
    rotated = f"{good['AIRFLOW_FERNET_KEY']},{good_secrets()['AIRFLOW_FERNET_KEY']}"
    done = run_check_secrets({"AIRFLOW__API_AUTH__JWT_SECRET": good["AIRFLOW_JWT_SECRET"],
                              "POSTGRES_PASSWORD": good["POSTGRES_PASSWORD"], "AIRFLOW__CORE__FERNET_KEY": rotated,
                              "AIRFLOW_ADMIN_PASSWORD": good["AIRFLOW_ADMIN_PASSWORD"]})
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_airflow_binds_to_localhost_under_umask_077():
    recipe = subprocess.run(["make", "-n", "-s", "airflow"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    standalone = recipe[recipe.index("umask 077"):]
    assert "AIRFLOW__API__HOST=127.0.0.1 exec .venv/bin/airflow standalone" in standalone
    assert "chmod 600 " in standalone
