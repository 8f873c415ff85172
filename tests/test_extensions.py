"""DuckDB extensions come from their PyPI packages and load offline, with autoinstall and autoload off."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.extensions import PACKAGES, ExtensionMissing, extension_file, load_extension


@pytest.fixture
def offline():
    """A connection that may neither download nor auto-load an extension: only an explicit LOAD of a file works."""
    with duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}) as con:
        yield con


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_each_extension_loads_from_its_installed_package(offline, name):
    load_extension(offline, name)
    [(loaded, mode)] = offline.execute("SELECT loaded, install_mode FROM duckdb_extensions() WHERE extension_name = ?",
                                       [name]).fetchall()
    assert loaded and mode == "NOT_INSTALLED", "loaded from the package's file, not from DuckDB's download cache"
    assert extension_file(name).parent.name == f"v{duckdb.__version__}"


def test_a_ducklake_with_a_sqlite_catalog_commits_snapshots_readers_can_travel_back_to(offline, tmp_path):
    for name in ("ducklake", "sqlite_scanner"):
        load_extension(offline, name)
    offline.execute(f"ATTACH 'ducklake:sqlite:{tmp_path / 'catalog.sqlite'}' AS lake (DATA_PATH '{tmp_path}/data/')")
    offline.execute("CREATE TABLE lake.runs (run_id VARCHAR, n INTEGER)")
    for run in ("r1", "r2"):
        offline.execute("BEGIN")
        offline.execute("INSERT INTO lake.runs VALUES (?, 1)", [run])
        offline.execute("CALL lake.set_commit_message('news', ?)", [f"run {run}"])
        offline.execute("COMMIT")
    [(first,)] = offline.execute("SELECT snapshot_id FROM lake.snapshots() WHERE commit_message = 'run r1'").fetchall()
    assert offline.execute(f"SELECT count(*) FROM lake.runs AT (VERSION => {first})").fetchall() == [(1,)]
    assert offline.execute("SELECT count(*) FROM lake.runs").fetchall() == [(2,)]


def test_a_missing_package_is_named(monkeypatch):
    monkeypatch.setitem(PACKAGES, "ducklake", "duckdb_extension_no_such_package")
    with pytest.raises(ExtensionMissing, match="duckdb-extension-no-such-package"):
        extension_file("ducklake")
