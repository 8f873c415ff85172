"""The "News" view of the Airflow UI: the run report of `pipeline.run_report`, for the latest run or any chosen one.

A FastAPI app mounted on the api-server at /news renders the page from the store on each request, and two external
views embed it: "News" in the navigation bar (the latest run, with a list of the others) and a "News report" tab
on every DAG run (that run's page; a stream run's page is its last micro-batch, whose run ids start with the DAG
run's). The page is the same self-contained HTML the `report` task writes, so it needs nothing from the network.

The app reads the store the DAGs write (`news_store.store_settings`). It only reads, with the read-only
connection analysts use, so it never waits for a running load.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from news_store import store_settings

app = FastAPI(title="News run reports", docs_url=None, redoc_url=None, openapi_url=None)


def _message(title: str, text: str, status: int) -> HTMLResponse:
    from html import escape

    return HTMLResponse(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
                        f'</head><body style="font-family: system-ui, sans-serif; padding: 24px">'
                        f'<h1 style="font-size: 20px">{escape(title)}</h1><p>{escape(text)}</p></body></html>',
                        status_code=status)


def _page(request: Request, asked: str | None) -> HTMLResponse:
    from pipeline.run_report import collect, find_run, list_runs, render

    settings = store_settings()
    if not settings.store.exists():
        return _message("No store yet", f"No store at {settings.store}: the first run creates it.", 404)
    runs = list_runs(settings.store)
    if not runs:
        return _message("No run yet", f"The store {settings.store} holds no run: trigger news_ingest.", 404)
    run_id = runs[0]["run_id"] if asked is None else find_run(settings.store, asked)
    if run_id is None:
        return _message("Run not in the store", f"The store holds no run {asked!r}: it loaded nothing, or it "
                                                "has not reached its load yet.", 404)
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(render(collect(settings.store, run_id), runs=runs,
                               run_href=lambda other: f"{root}/runs/{quote(other, safe='')}"))


@app.get("/", response_class=HTMLResponse)
def latest_report(request: Request) -> HTMLResponse:
    """The latest run's report."""
    return _page(request, None)


@app.get("/runs/{run_id:path}", response_class=HTMLResponse)
def run_report(request: Request, run_id: str) -> HTMLResponse:
    """One run's report: a store run id, or a DAG run id (a stream run shows its last micro-batch)."""
    return _page(request, run_id)


class NewsReportPlugin(AirflowPlugin):
    name = "news_report"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [{"app": app, "url_prefix": "/news", "name": "News run reports"}]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {"name": "News", "href": "news/", "destination": "nav", "url_route": "news", "nav_top_level": True},
        {"name": "News report", "href": "news/runs/{RUN_ID}", "destination": "dag_run", "url_route": "news-run"},
    ]
