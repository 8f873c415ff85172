"""The run report in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, which `make
browser` installs) opens the page `news report --html` writes, and the Airflow UI's "News" view on a running
api-server, takes screenshots and checks what is on the page against the store.

Screenshots go to the test's temporary folder, or to NEWS_SCREENSHOTS when it names a folder (to look at them).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.cli import main
from pipeline.store import query
from tests.conftest import REPO, SEEDS
from tests.support.cluster import free_port

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Chromium and ChromeDriver are not installed: run `make browser` (Debian's "
                                       "chromium and chromium-driver packages)")
CHARTS = {"inputs_by_state", "articles_per_day", "articles_per_site", "articles_per_language", "runs_by_state",
          "quality_over_runs"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store with two runs: the seeds, then the seeds again (seen before) with a near copy of one, an empty file
    and a binary one (rejected), and a short wire story."""
    root = tmp_path_factory.mktemp("report")
    second = root / "second"
    second.mkdir()
    for seed in sorted(SEEDS.glob("*.txt")):
        shutil.copy(seed, second / seed.name)
    first_seed = sorted(SEEDS.glob("*.txt"))[0].read_text()
    (second / "near-copy.txt").write_text(first_seed.replace("\n\n", "\n\nUpdated.\n\n", 1))
    (second / "empty.txt").write_text("")
    (second / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (second / "wire.txt").write_text(
        "Berlin mayor opens new rail line\n\nBERLIN (Reuters) - Berlin's mayor Kai Wegner opened the new S21 rail "
        "line on Monday, saying it would cut journeys between the main station and the north of the city by ten "
        "minutes. Deutsche Bahn said the line had cost 1.2 billion euros.\n")
    db = root / "news.ducklake"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NEWS_DATA_DIR", str(root))
        for folder, run_id in ((SEEDS, "first"), (second, "second")):
            assert main(["ingest", str(folder), "--run-id", run_id, "--store", str(db)]) == 0
    return db


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,2600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("NEWS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(driver, path: Path) -> None:
    """A screenshot of the whole page (Chromium's full-size capture), checked to hold a picture."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(int(height) + 40, 8000)))
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 20_000, f"{path} is nearly empty"


def values(driver, chart: str) -> dict[str, int]:
    from selenium.webdriver.common.by import By

    marks = driver.find_elements(By.CSS_SELECTOR, f'svg[data-chart="{chart}"] rect.mark')
    return {mark.get_attribute("data-label"): int(mark.get_attribute("data-value")) for mark in marks}


def assert_page_shows_run(driver, db: Path, run_id: str) -> None:
    """What the page shows is the store's: the run's counts, its inputs by state, its languages and its most
    named person, and every chart is drawn with visible marks."""
    from selenium.webdriver.common.by import By

    assert driver.find_element(By.ID, "run-id").text == run_id
    drawn = {svg.get_attribute("data-chart") for svg in driver.find_elements(By.CSS_SELECTOR, "svg.chart")}
    assert drawn == CHARTS
    assert all(mark.size["height"] > 0 for mark in driver.find_elements(By.CSS_SELECTOR, "rect.mark")
               if mark.get_attribute("data-value") != "0")
    (n_inputs, loaded, duplicate, rejected, failed), = query(
        db, "SELECT n_inputs, n_loaded, n_duplicate, n_rejected, n_failed FROM ingest_runs WHERE run_id = ?",
        [run_id])[1]
    tiles = {tile.get_attribute("data-count"): int(tile.find_element(By.CLASS_NAME, "number").text.replace(",", ""))
             for tile in driver.find_elements(By.CSS_SELECTOR, "[data-count]")}
    (passed, failed_checks), = query(db, "SELECT count(*) FILTER (success), count(*) FILTER (NOT success) "
                                         "FROM quality_results WHERE run_id = ?", [run_id])[1]
    assert tiles == {"inputs": n_inputs, "loaded": loaded, "duplicate": duplicate, "rejected": rejected,
                     "failed": failed, "checks_passed": passed, "checks_failed": failed_checks}

    by_state: dict[str, int] = {}
    for label, count in values(driver, "inputs_by_state").items():
        by_state[label.split(" · ")[0]] = by_state.get(label.split(" · ")[0], 0) + count
    ledger = dict(query(db, "SELECT state, count(*) FROM ingest_log WHERE run_id = ? GROUP BY ALL", [run_id])[1])
    assert by_state == ledger
    assert sum(by_state.values()) == n_inputs

    languages = dict(query(db, "SELECT coalesce(language, 'unknown'), count(*) FROM articles WHERE run_id = ? "
                               "GROUP BY ALL", [run_id])[1])
    assert values(driver, "articles_per_language") == languages
    runs = values(driver, "runs_by_state")
    assert run_id in runs

    people = query(db, "SELECT e.name FROM articles a JOIN entity_mentions m USING (article_id) JOIN entities e "
                       "USING (entity_id) WHERE a.run_id = ? AND e.label = 'PERSON' GROUP BY e.name "
                       "ORDER BY count(*) DESC, e.name LIMIT 1", [run_id])[1]
    if people:
        table = driver.find_element(By.CSS_SELECTOR, '[data-entities="run"]').text
        assert people[0][0] in table


def test_the_html_report_shows_the_run_s_numbers_as_charts(store, browser, screenshots, tmp_path, capsys):
    page = tmp_path / "second.html"
    assert main(["report", "--run-id", "second", "--html", "--output", str(page), "--store", str(store)]) == 0
    assert f"report: {page}" in capsys.readouterr().out
    html = page.read_text()
    assert "<script src" not in html and "<link" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""), "the page must need nothing from the network"

    browser.get(page.as_uri())
    assert_page_shows_run(browser, store, "second")
    assert browser.find_element("id", "duplicates").text.count("seen_before") >= 1
    shoot(browser, screenshots / "report-second.png")


@pytest.fixture(scope="module")
def api_server(airflow_db, store, tmp_path_factory):
    """`airflow api-server` with this repository's plugins, the store as its `duckdb_default` connection, and every
    user an admin (no login page between the browser and the view)."""
    port = free_port()
    logs = tmp_path_factory.mktemp("api-server") / "api-server.log"
    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
           "AIRFLOW_CONN_DUCKDB_DEFAULT": f'{{"conn_type": "duckdb", "host": "{store}"}}',
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with logs.open("w") as log:
        process = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "api-server", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, logs.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail(f"the api-server did not answer in 180 s:\n{logs.read_text()[-3000:]}")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_airflow_ui_has_a_news_view_with_the_latest_run_s_report(api_server, store, browser, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    plugins = httpx.get(f"{api_server}/api/v2/plugins").json()["plugins"]
    views = {view["name"]: view for plugin in plugins for view in plugin["external_views"]}
    assert views["News"]["url_route"] == "news" and views["News report"]["destination"] == "dag_run"

    browser.get(f"{api_server}/plugin/news")
    frame = WebDriverWait(browser, 60).until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
    assert browser.find_element(By.CSS_SELECTOR, 'a[aria-label="News"]').get_attribute("href").endswith("/plugin/news")
    browser.switch_to.frame(frame)
    WebDriverWait(browser, 60).until(expected_conditions.presence_of_element_located((By.ID, "run-id")))
    assert_page_shows_run(browser, store, "second")
    browser.switch_to.default_content()
    shoot(browser, screenshots / "airflow-news-view.png")


def test_the_news_view_shows_any_chosen_run_and_says_when_a_run_is_unknown(api_server, store, browser, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{api_server}/news/")
    Select(browser.find_element(By.NAME, "run")).select_by_value("first")
    deadline = time.monotonic() + 30
    while browser.find_element(By.ID, "run-id").text != "first" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_page_shows_run(browser, store, "first")
    shoot(browser, screenshots / "report-first.png")

    unknown = httpx.get(f"{api_server}/news/runs/nope")
    assert unknown.status_code == 404 and "no run 'nope'" in unknown.text.replace("&#x27;", "'")
