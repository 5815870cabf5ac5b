"""User folders follow WORKSTATION_HOME and WORKSTATION_DB, so nothing touches real user files."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation import paths


def test_all_user_folders_live_under_workstation_home(isolated_home: Path) -> None:
    for folder in (paths.data_dir(), paths.config_dir(), paths.log_dir(), paths.cache_dir(), paths.user_models_dir()):
        assert folder.is_dir()
        assert folder.is_relative_to(isolated_home)
    assert paths.default_db() == isolated_home / "data" / "workstation.duckdb"


def test_workstation_db_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSTATION_DB", str(tmp_path / "team.duckdb"))
    assert paths.default_db() == tmp_path / "team.duckdb"


def test_resources_and_catalog_are_found() -> None:
    assert paths.resources_dir().is_dir()
    assert paths.catalog_path().is_file()
