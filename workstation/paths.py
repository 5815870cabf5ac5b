"""Where the workstation keeps user data, settings, logs and its own resources.

User folders follow the platform (platformdirs); `WORKSTATION_HOME` puts all of them under
one folder (tests point it at `tmp_path`), and `WORKSTATION_DB` names the database file.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "reasoning-workstation"

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent


def _home() -> Path | None:
    value = os.environ.get("WORKSTATION_HOME")
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    """The folder, created for this user alone (0700) when it does not exist yet: reviews,
    notes and settings are the user's own. A folder that exists is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The user's data folder (database, the user's own GGUF models, keys)."""
    home = _home()
    return _ensure(home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME)))


def config_dir() -> Path:
    """The user's settings folder."""
    home = _home()
    return _ensure(home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME)))


def log_dir() -> Path:
    """The folder for logs and crash reports."""
    home = _home()
    return _ensure(home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME)))


def cache_dir() -> Path:
    """The folder for caches that may be deleted at any time."""
    home = _home()
    return _ensure(home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME)))


def user_models_dir() -> Path:
    """The folder in the user's data folder where they may drop their own GGUF files."""
    return _ensure(data_dir() / "models")


def default_db() -> Path:
    """The database file: `WORKSTATION_DB` if set, else `workstation.duckdb` in the data folder."""
    value = os.environ.get("WORKSTATION_DB")
    return Path(value).expanduser() if value else data_dir() / "workstation.duckdb"


def resources_dir() -> Path:
    """The `resources/` folder: inside an installed wheel, or the repository's own."""
    packaged = _PACKAGE_DIR / "_resources"
    return packaged if packaged.is_dir() else _REPO_ROOT / "resources"


def repo_models_dir() -> Path | None:
    """The repository's `models/` folder, when running from a checkout."""
    folder = _REPO_ROOT / "models"
    return folder if folder.is_dir() else None


def catalog_path() -> Path:
    """The catalog of model packages (`models/catalog.toml`)."""
    packaged = _PACKAGE_DIR / "_resources" / "catalog.toml"
    return packaged if packaged.is_file() else _REPO_ROOT / "models" / "catalog.toml"
