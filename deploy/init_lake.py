"""Creates the store's DuckLake catalog database in PostgreSQL when it is missing and applies the pending
migrations: what compose's airflow-init runs after `airflow db migrate`, so no task ever meets an empty catalog.

The store is the one the DAGs use: the `duckdb_default` connection's host (`postgres:<libpq dsn>`), with the
data folder from NEWS_LAKE_DATA. The password is not in the DSN: libpq takes it from PGPASSWORD. Run as root
(airflow-init is), it creates the database first, then becomes the owner of NEWS_DATA_DIR before it writes
anything there, so the workers can take the writer slot's lock file it leaves in the data folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.store import Store

DUCKDB_CONN_ID = "duckdb_default"


def store() -> Store:
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    from pipeline.settings import load_settings

    database = DuckDBHook(duckdb_conn_id=DUCKDB_CONN_ID).get_database()
    settings = load_settings()
    return settings.with_store(database).store if database and database != ":memory:" else settings.store


def create_database(dsn: str) -> None:
    """Creates the DSN's database, connecting to the server's `postgres` database with the same role."""
    import psycopg2
    from psycopg2 import sql

    name = dict(pair.split("=", 1) for pair in dsn.split())["dbname"]
    connection = psycopg2.connect(dsn, dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone():
                print(f"init-lake: catalog database {name} exists")
                return
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"init-lake: created catalog database {name}")
    finally:
        connection.close()


def become_data_owner() -> None:
    if os.geteuid() != 0:
        return
    owner = Path(os.environ.get("NEWS_DATA_DIR", "/opt/news/data")).stat()
    os.setgid(owner.st_gid)
    os.setuid(owner.st_uid)


def main() -> int:
    from pipeline.store import connect, migrate

    lake = store()
    if lake.catalog_file is not None:
        print(f"init-lake: the store is an SQLite catalog ({lake}); nothing to create", file=sys.stderr)
    else:
        create_database(lake.catalog.removeprefix("postgres:"))
    become_data_owner()
    with connect(lake) as con:
        applied = migrate(con)
    print(f"init-lake: {lake} with data in {lake.data_path}: "
          f"{'applied migrations ' + ', '.join(map(str, applied)) if applied else 'schema up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
