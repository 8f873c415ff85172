"""docker-compose.yml is checked structurally (no Docker engine runs in CI)."""

import re

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")


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
    text = (REPO / "docker-compose.yml").read_text()
    wanted = set(re.findall(r"\$\{(\w+)", text))
    example = {line.split("=")[0] for line in (REPO / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert wanted <= example


def test_env_file_itself_is_not_committed():
    assert ".env" in (REPO / ".gitignore").read_text().split()
