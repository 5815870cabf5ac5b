"""A full disk during every export format, through the real command line.

Each export goes to a small tmpfs filled to the brim (and, in the full run, filled to leave
part of the export's size): the command ends with status 2 and one line that names the file,
says the disk is full and what to do; nothing lies under the export's final names, no
temporary file is left behind, the database (on another disk) is unchanged; once space is
back the same export, in the same process, succeeds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.cli import main
from workstation.store import Store

from .fault_disk import TinyDisk, counts, mount_tiny_disk, populate

FORMATS = {
    "trl-stepwise": "s.jsonl",
    "trl-preference": "p.jsonl",
    "kto": "k.jsonl",
    "prm800k": "prm.jsonl",
    "parquet": "tables",
    "report": "r.html",
    "bundle": "b.wsbundle",
}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    yield from mount_tiny_disk(tmp_path / "tiny", "4m")


def _export(db: Path, fmt: str, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    args = ["export", "--db", str(db), "--format", fmt, "--out", str(out)]
    if fmt == "bundle":
        args += ["--signer", "ada"]
    status = main(args)
    return status, capsys.readouterr().err


def _written(out: Path) -> int:
    """Bytes of an export (a folder's files for parquet), 0 when there is none."""
    if out.is_dir():
        return sum(p.stat().st_size for p in out.iterdir())
    return out.stat().st_size if out.exists() else 0


def _assert_nothing_under(disk: TinyDisk, out: Path, before: list[str]) -> None:
    """No export, manifest or temporary file: the folder holds what it held before."""
    if out.is_dir():  # parquet's folder may be made before the disk fills; it must stay empty
        assert disk.names(out) == [], disk.names(out)
        assert disk.names() == sorted({*before, out.name})
    else:
        assert disk.names() == before, disk.names()


def _assert_clear(status: int, err: str, out: Path) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(out) in lines[0] and "disk is full" in lines[0] and "free some space" in lines[0], err


def test_every_export_on_a_full_disk(tmp_path: Path, disk: TinyDisk, capsys, monkeypatch, size, figures) -> None:
    monkeypatch.setenv("WORKSTATION_KEY_PASSPHRASE", "fault test passphrase")
    db = tmp_path / "review.duckdb"
    held = populate(db, sessions=size.pick(6, 24))
    faults = 0
    for fmt, name in FORMATS.items():
        out = disk.root / name
        before = disk.names()
        disk.fill(0)
        status, err = _export(db, fmt, out, capsys)
        _assert_clear(status, err, out)
        _assert_nothing_under(disk, out, before)
        faults += 1
        # Space back: the same export in the same process works.
        disk.free()
        status, err = _export(db, fmt, out, capsys)
        assert status == 0, err
        full_size = _written(out)
        assert full_size > 0
        if out.is_file() and fmt != "bundle":
            # Room for the data file's pages and not one more: the manifest beside it fails,
            # and the data file, already renamed into place, is taken back.
            page = os.statvfs(disk.root).f_frsize
            manifest = disk.root / f"manifest-{name}"
            before = disk.names()
            disk.fill(-(-out.stat().st_size // page) * page)
            status, err = _export(db, fmt, manifest, capsys)
            _assert_clear(status, err, manifest)
            _assert_nothing_under(disk, manifest, before)
            faults += 1
            disk.free()
        # Part of the room it needs (the manifest or a later table may be what fails).
        for share in (2, 4, 8)[: size.pick(1, 3)]:
            partial = disk.root / f"partial-{share}-{name}"
            before = disk.names()
            disk.fill(full_size // share)
            status, err = _export(db, fmt, partial, capsys)
            if status != 0:
                _assert_clear(status, err, partial)
                _assert_nothing_under(disk, partial, before)
                faults += 1
            else:  # it fitted after all (tmpfs counts whole pages): then it is complete
                assert _written(partial) == full_size or fmt in ("bundle", "report"), (fmt, share)
            disk.free()
    with Store.open(db, read_only=True) as store:
        assert counts(store) == held
    figures.add("disk-full faults survived", faults)


@pytest.mark.qt
def test_every_export_from_the_window_on_a_full_disk(qtbot, tmp_path: Path, disk: TinyDisk, monkeypatch, size,
                                                     figures) -> None:
    from workstation.ui.export_dialog import ExportDialog

    from .fault_window import clear_message, open_window, wait_error, write_fast_settings

    monkeypatch.setenv("WORKSTATION_KEY_PASSPHRASE", "fault test passphrase")
    write_fast_settings()
    db = tmp_path / "review.duckdb"
    held = populate(db, sessions=size.pick(4, 24))
    window = open_window(qtbot, db)
    dialog = ExportDialog(window.backend, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=30_000)
    faults = 0
    for fmt, name in FORMATS.items():
        dialog.set_format(fmt)
        out = disk.root / name
        before = disk.names()
        disk.fill(0)
        clear_message(window)
        dialog.export(out)
        text = wait_error(qtbot, window)
        qtbot.waitUntil(lambda: not dialog.running)
        assert str(out) in text and "disk is full" in text and "free some space" in text, text
        assert dialog.result.text() == f"Export failed: {text}"
        _assert_nothing_under(disk, out, before)
        faults += 1
        disk.free()
        with qtbot.waitSignal(dialog.exported, timeout=60_000) as done:
            dialog.export(out)
        assert str(out) in done.args[0] and _written(out) > 0
    window.close()
    with Store.open(db, read_only=True) as store:
        assert counts(store) == held
    figures.add("disk-full faults survived", faults)
