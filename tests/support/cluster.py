"""A production-shaped Airflow started natively: Postgres metadata, Redis broker, CeleryExecutor.

The integration test (tests/test_production.py) and the topology benchmark (tools/bench_topology.py) use it.
It runs the real `airflow` components as processes (api-server, scheduler, dag-processor, Celery workers) with
their own AIRFLOW_HOME, their own Postgres database and their own Redis database number, talks to them only
through the REST API the UI uses, and stops every process it started by PID (its process group) however the
caller ends. The store is a DuckLake as in production: its catalog in a PostgreSQL database of its own (created
and migrated at start, as compose's airflow-init does, dropped at stop), its Parquet files in the data folder,
named to the components by the `duckdb_default` connection's host and NEWS_LAKE_DATA.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from pipeline.store import Store, connect, migrate

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("NEWS_IT_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("NEWS_IT_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("NEWS_IT_REDIS_DB", "11"))
ADMIN_PASSWORD = "news-integration"
DUCKDB_POOL = "duckdb_writer"


class ClusterError(RuntimeError):
    """A component did not come up or a run did not finish; the message carries the logs' tails."""


def services_reachable() -> str | None:
    """Why the local Postgres/Redis cannot be used, or None when both answer."""
    import psycopg2
    import redis

    try:
        psycopg2.connect(f"{POSTGRES_URL}/postgres", connect_timeout=3).close()
    except psycopg2.Error as error:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}"
    try:
        redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}", socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis at {REDIS_URL} is not reachable: {error}"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def group_alive(group: int) -> bool:
    """Whether any process of the group (a component's task runners and Celery children) is still running."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def libpq_dsn(url: str, database: str) -> str:
    """A libpq key/value connection string (what a DuckLake `postgres:` catalog takes) for `database` on the
    server of a postgresql:// URL."""
    parts = urlsplit(url)
    fields = {"dbname": database, "host": parts.hostname, "port": parts.port,
              "user": unquote(parts.username) if parts.username else None,
              "password": unquote(parts.password) if parts.password else None}
    return " ".join(f"{key}={value}" for key, value in fields.items() if value)


def _postgres_admin(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(f"{POSTGRES_URL}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@dataclass
class AirflowCluster:
    """Components of one Airflow deployment on this machine; use as a context manager."""

    home: Path
    data_dir: Path
    workers: int = 1
    worker_concurrency: int = 1
    port: int = field(default_factory=free_port)
    database: str = field(default_factory=lambda: f"news_it_{secrets.token_hex(4)}")
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    """Set in every component's environment last (a test's stream, shorter timeouts)."""

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def inbox(self) -> Path:
        """What the scheduled nightly run replays: empty, so only the runs a test triggers carry inputs."""
        return self.data_dir / "inbox"

    @property
    def lake_database(self) -> str:
        """The PostgreSQL database of the store's DuckLake catalog, beside the Airflow metadata database."""
        return f"{self.database}_lake"

    @property
    def store(self) -> Store:
        """The store the components write: a PostgreSQL catalog, Parquet files in the data folder."""
        return Store.at(f"postgres:{libpq_dsn(POSTGRES_URL, self.lake_database)}", self.data_dir / "lake")

    def environment(self) -> dict[str, str]:
        sql = f"{POSTGRES_URL.replace('postgresql://', 'postgresql+psycopg2://')}/{self.database}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": "news-integration-" + self.database,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
            "AIRFLOW__CELERY__BROKER_URL": f"{REDIS_URL}/{REDIS_DB}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{sql}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW_CONN_DUCKDB_DEFAULT": json.dumps({"conn_type": "duckdb", "host": self.store.catalog}),
            "NEWS_LAKE_DATA": self.store.data_path,
            "NEWS_DATA_DIR": str(self.data_dir),
            "NEWS_INBOX": str(self.inbox),
            "GX_ANALYTICS_ENABLED": "false",
        })
        env.update(self.extra_env)
        return env

    def __enter__(self) -> AirflowCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.inbox.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": ADMIN_PASSWORD}))
        _postgres_admin(f'CREATE DATABASE "{self.database}"')
        _postgres_admin(f'CREATE DATABASE "{self.lake_database}"')
        with connect(self.store) as con:
            migrate(con)
        self._flush_broker()
        self._airflow("db", "migrate")
        self._airflow("pools", "set", DUCKDB_POOL, "1", "DuckDB allows one writer per file")
        self._spawn("api-server", "api-server", "--port", str(self.port))
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("triggerer", "triggerer")  # runs the asset watchers that wake event-driven DAGs
        for number in range(1, self.workers + 1):
            self._spawn(f"worker-{number}", "celery", "worker", "--celery-hostname", f"news{number}@%h",
                        "--concurrency", str(self.worker_concurrency), "--skip-serve-logs")
        self._wait_for_api()

    def stop(self) -> None:
        """Stops every component by its process group, then drops the databases and the broker's queue."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        survivors = [name for name, process in self.processes.items() if group_alive(process.pid)]
        for name in survivors:
            os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes.clear()
        self._flush_broker()
        _postgres_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        _postgres_admin(f'DROP DATABASE IF EXISTS "{self.lake_database}" WITH (FORCE)')

    def _flush_broker(self) -> None:
        import redis

        redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}").flushdb()

    def _airflow(self, *args: str) -> None:
        done = subprocess.run(["airflow", *args], env=self.environment(), capture_output=True, text=True)
        if done.returncode:
            raise ClusterError(f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(["airflow", *args], env=self.environment(), stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name in self.processes:
            text = (self.home / f"{name}.log").read_text(errors="replace").splitlines()
            parts.append(f"--- {name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    def _wait_for_api(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(f"{self.api}/api/v2/monitor/health", timeout=5).status_code == 200:
                    self._token = self._login()
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        raise ClusterError(f"the api-server did not answer within {timeout:.0f} s\n{self.log_tails()}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ClusterError(f"{name} exited with {process.returncode}\n{self.log_tails()}")

    def _login(self) -> str:
        response = httpx.post(f"{self.api}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
        response.raise_for_status()
        return response.json()["access_token"]

    def request(self, method: str, path: str, **kwargs) -> dict:
        response = httpx.request(method, f"{self.api}/api/v2{path}", timeout=30,
                                 headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
        if response.status_code >= 400:
            raise ClusterError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            errors = self.request("GET", "/importErrors")["import_errors"]
            if errors:
                raise ClusterError(f"DAG import errors: {errors}")
            try:
                self.request("GET", f"/dags/{dag_id}")
                return
            except ClusterError:
                time.sleep(2)
        raise ClusterError(f"{dag_id} was not parsed within {timeout:.0f} s\n{self.log_tails()}")

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Triggers a run as the UI's "Trigger DAG" button does; returns its run id."""
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout: float = 900) -> dict[str, str]:
        """Waits until every run has finished and returns its final state."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            self._check_alive()
            for run_id in run_ids:
                states[run_id] = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if all(state in ("success", "failed") for state in states.values()):
                return states
            time.sleep(2)
        raise ClusterError(f"runs still {states} after {timeout:.0f} s\n{self.log_tails()}")

    def runs(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 1000})["task_instances"]
