"""DuckDB extensions from their PyPI packages (`duckdb-extension-*`): loaded from the installed files, never
downloaded at run time, so a machine without network access (CI, an air-gapped worker) loads the same bits.

Each package ships the extension built for one DuckDB version, under `extensions/v<version>/`; DuckDB is pinned
to that version in `pyproject.toml`, and a mismatch is reported by name rather than as a load error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}
"""Extension name → the Python package that ships it."""


class ExtensionMissing(RuntimeError):
    """The extension's package is not installed, or was built for another DuckDB version."""


def extension_file(name: str) -> Path:
    package = PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionMissing(f"DuckDB extension {name!r} needs the package {package.replace('_', '-')}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    path = folder / f"{name}.duckdb_extension"
    if not path.is_file():
        built = sorted(p.name for p in folder.parent.glob("v*"))
        raise ExtensionMissing(f"{package.replace('_', '-')} has no {name} extension for DuckDB "
                               f"{duckdb.__version__} (it has {', '.join(built) or 'none'})")
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"LOAD '{extension_file(name)}'")
