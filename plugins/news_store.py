"""The store the Airflow components read and write: the `duckdb_default` connection's host when it is set (a
DuckLake catalog file, or `postgres:<dsn>` with NEWS_LAKE_DATA naming the data folder), else the engine's settings.

One function for the DAG tasks (`dags/news_tasks.py`, `engine_settings`) and the UI's News view
(`news_report_plugin.py`), so a task and the page always name the same store. It lives here because every
component has this folder on `sys.path`, the api-server included; the DAG bundle is not on the api-server's.
"""

from __future__ import annotations

DUCKDB_CONN_ID = "duckdb_default"


def store_settings():
    """The engine's settings with the store of the `duckdb_default` connection. Without that connection the hook
    answers `:memory:` (and logs so), and the settings' own store stands."""
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    from pipeline.settings import load_settings

    settings = load_settings()
    database = DuckDBHook(duckdb_conn_id=DUCKDB_CONN_ID).get_database()
    return settings.with_store(database) if database and database != ":memory:" else settings
