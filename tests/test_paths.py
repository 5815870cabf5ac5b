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


@pytest.mark.skipif(not hasattr(__import__("os"), "getuid"), reason="POSIX modes")
def test_new_user_folders_are_private_and_existing_ones_are_left_alone(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        for folder in (paths.data_dir(), paths.config_dir(), paths.log_dir(), paths.cache_dir(), paths.user_models_dir()):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        mine = tmp_path / "shared-home"
        (mine / "data").mkdir(parents=True, mode=0o755)
        os.chmod(mine / "data", 0o755)
        monkeypatch.setenv("WORKSTATION_HOME", str(mine))
        assert stat.S_IMODE(paths.data_dir().stat().st_mode) == 0o755  # the user's own choice stays
        assert stat.S_IMODE(paths.config_dir().stat().st_mode) == 0o700
    finally:
        os.umask(old)
