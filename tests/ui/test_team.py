"""The Team menu on a plain window: Team view (counts, agreement, charts), the disagreement queue
and its adjudication, Export, Import with an unknown signer, and Keys.

Real parts throughout: a DuckDB file in tmp_path opened by the real `Backend` worker, real
Ed25519 keys (a passphrase-protected key file, as on a machine without a system keyring: the
keyring is a real file backend in tmp_path that keyring does not recommend), real bundles.
Every use of the store or the key files is checked to happen off the GUI thread.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMainWindow

from workstation import paths
from workstation.ui.backend import Backend
from workstation.ui.exchange_dialogs import PASSPHRASE_VARIABLE
from workstation.ui.export_dialog import ExportDialog
from workstation.ui.keys_dialog import KeysDialog
from workstation.ui.team import TeamView
from workstation.ui.team_charts import chart_text
from workstation.ui.team_menu import TeamMenu, install_team_menu

pytestmark = pytest.mark.qt

PASSPHRASE = "correct horse battery staple"
STEPS = "12 * 4 = 48.\n\n48 + 2 = 50.\n\nSo the answer is 51.\n\n"
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: alice and bob label the three steps; they disagree on the second only.
LABELS = {"alice": (1, 1, -1), "bob": (1, -1, -1)}


@pytest.fixture(autouse=True)
def test_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keyring's own choice is a real file backend in tmp_path, never the user's keyring; it is
    not a recommended backend, so keys live in passphrase-protected files."""
    monkeypatch.delenv(PASSPHRASE_VARIABLE, raising=False)
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "default.cfg")
    keyring.set_keyring(backend)
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def gui_thread_uses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every store method and key file access made on the GUI thread (there must be none)."""
    from workstation.exchange.keys import KeyStore, TrustedKeys
    from workstation.review_exchange import Exchange
    from workstation.store.store import Store

    found: list[str] = []

    def guard(owner: type, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread():
                found.append(f"{owner.__name__}.{name}")
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, checked)

    for name, attr in vars(Store).items():
        if inspect.isfunction(attr) and not name.startswith("__"):
            guard(Store, name)
    for owner, name in ((Exchange, "__init__"), (KeyStore, "__init__"), (TrustedKeys, "_read"),
                        (TrustedKeys, "_write")):
        guard(owner, name)
    return found


@pytest.fixture
def window(qtbot, tmp_path: Path, gui_thread_uses: list[str]) -> Iterator[QMainWindow]:
    """A plain window with a Backend open on a real database and the Team menu installed; the
    window's reviewer is 'lead', an expert."""
    settings_file = paths.config_dir() / "settings.json"
    settings_file.write_text(json.dumps({"review.reviewer": "lead", "review.role": "expert"}), encoding="utf-8")
    win = QMainWindow()
    qtbot.addWidget(win)
    backend = Backend(win)
    win.backend = backend  # type: ignore[attr-defined]
    errors: list[str] = []
    backend.error.connect(errors.append)
    win.errors = errors  # type: ignore[attr-defined]
    opened: list[Any] = []
    backend.open(tmp_path / "team.duckdb", opened.append, opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=20_000)
    assert not isinstance(opened[0], str), opened[0]
    install_team_menu(win, backend)
    win.resize(1000, 700)
    win.show()
    yield win
    backend.shut_down()
    assert gui_thread_uses == []


def run(qtbot, win: QMainWindow, job: Callable[[Any], Any]) -> Any:
    """Run a job on the window's worker and wait for its result."""
    box: list[Any] = []
    win.backend.call(job, lambda result: box.append(("ok", result)), lambda message: box.append(("error", message)))
    qtbot.waitUntil(lambda: bool(box), timeout=30_000)
    kind, value = box[0]
    assert kind == "ok", value
    return value


def seed(review: Any, labels: dict[str, tuple[int, ...]] = LABELS, question: str = "What is 12 * 4 + 2?",
         tags: tuple[str, ...] = ("arithmetic error",)) -> tuple[str, list[str]]:
    """A session with three steps, labelled by each reviewer in `labels` (on the worker)."""
    from workstation.core.model import Reviewer

    me = review.reviewer
    tree = review.start(question)
    review.add_steps(tree.session.id, STEPS, model=MODEL)
    ids = [n.id for n in review.tree(tree.session.id).shown_path()][1:]
    try:
        for reviewer_id, values in labels.items():
            review.reviewer = Reviewer(reviewer_id, "annotator")
            for node_id, value in zip(ids, values, strict=True):
                review.annotate(node_id, value, tags=tags if value < 0 else ())
    finally:
        review.reviewer = me
    return tree.session.id, ids


def menu_of(win: QMainWindow) -> TeamMenu:
    menu = win.findChild(TeamMenu)
    assert menu is not None
    return menu


def open_team_view(qtbot, win: QMainWindow) -> TeamView:
    menu = menu_of(win)
    view = menu.dock.view
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        menu.actions["team_view"].trigger()
    assert menu.dock.isVisible()
    return view


def test_team_menu_has_every_action_with_a_shortcut(qtbot, window: QMainWindow) -> None:
    menu = menu_of(window)
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Team" in titles
    shortcuts = {name: a.shortcut().toString() for name, a in menu.actions.items()}
    assert shortcuts == {"export": "Ctrl+E", "import": "Ctrl+I", "team_view": "Ctrl+Shift+T", "keys": "Ctrl+Shift+K"}
    assert not menu.dock.isVisible()


def test_team_view_shows_counts_agreement_and_charts(qtbot, window: QMainWindow) -> None:
    from workstation.review_exchange import Exchange

    run(qtbot, window, seed)
    expected = run(qtbot, window, lambda review: Exchange(review).stats())
    view = open_team_view(qtbot, window)

    rows = {view.reviewers.item(r, 0).text(): [view.reviewers.item(r, c).text() for c in range(8)]
            for r in range(view.reviewers.rowCount())}
    assert set(rows) == {"alice", "bob"}
    assert rows["alice"][2:7] == ["3", "3", "1", "0", "2"]  # annotations, labels, wrong, neutral, right
    assert rows["bob"][2:7] == ["3", "3", "2", "0", "1"]
    alpha = expected["agreement"]["krippendorff_alpha_ordinal"]
    assert alpha is not None
    assert f"Krippendorff's alpha (ordinal): {alpha:.3f}" in view.alpha.text()
    assert view.kappa.rowCount() == 1 and view.kappa.item(0, 2).text() == "3"
    assert view.labels_chart.categories == ["alice", "bob"]
    series = view.labels_chart.chart().series()[0]
    assert [list(s.at(i) for i in range(2)) for s in series.barSets()] == [[1, 2], [0, 0], [2, 1]]
    assert view.tags_chart.categories == ["arithmetic error"]
    assert view.models.item(0, 0).text() == MODEL
    assert "1 disagreement(s) waiting" in view.summary.text()
    assert view.tabs.tabText(view.queue_tab) == "Disagreements (1)"


def test_team_view_follows_new_labels(qtbot, window: QMainWindow) -> None:
    view = open_team_view(qtbot, window)
    assert view.reviewers.rowCount() == 0
    assert "not defined" in view.alpha.text()
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        run(qtbot, window, seed)
        view.refresh()
    assert view.reviewers.rowCount() == 2


def test_disagreement_queue_and_adjudication(qtbot, qtmodeltester, window: QMainWindow) -> None:
    from workstation.review_exchange import Exchange

    session_id, ids = run(qtbot, window, seed)
    view = open_team_view(qtbot, window)
    qtmodeltester.check(view.queue_model)
    assert view.queue_model.rowCount() == 1
    assert view.queue_model.items[0]["node_id"] == ids[1]
    assert view.queue_model.index(0, 0).data() == "What is 12 * 4 + 2?"
    assert view.queue_model.index(0, 1).data() == "2"
    assert view.queue_model.index(0, 2).data() == "alice: right, bob: wrong"
    assert view.queue_model.index(0, 3).data() == "48 + 2 = 50."
    form = view.form
    assert form.isEnabled() and form.step_text.toPlainText() == "48 + 2 = 50."
    assert form.identity.text() == "lead" and form.role.currentData() == "expert"

    form.submit.click()  # no label, no reason: nothing is sent
    assert "Pick a label" in form.feedback.text()
    form.set_label(1)
    form.reason.setPlainText("48 + 2 is 50; the step is right.")
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        view.refresh()  # as any label anywhere does: what was typed stays
    assert form.chosen_label() == 1 and form.reason.toPlainText() == "48 + 2 is 50; the step is right."
    view.tabs.setCurrentIndex(view.queue_tab)
    window.activateWindow()
    form.reason.setFocus()
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        qtbot.keyClick(form.reason, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert view.queue_model.rowCount() == 0
    assert "settled as right" in form.feedback.text()
    assert not form.isEnabled()
    assert view.tabs.tabText(view.queue_tab) == "Disagreements (0)"

    def events(review: Any) -> tuple[list, list]:
        adjudications = review.store.events(session_id, types=("adjudicated",))
        return Exchange(review).disagreements(), [(e.reviewer_id, e.role, e.op.annotation.label, e.op.annotation.note) for e in adjudications]

    queue, logged = run(qtbot, window, events)
    assert queue == []
    assert logged == [("lead", "expert", 1, "48 + 2 is 50; the step is right.")]
    assert window.errors == []


def test_adjudication_as_an_annotator_is_refused_with_the_reason(qtbot, window: QMainWindow) -> None:
    run(qtbot, window, seed)
    view = open_team_view(qtbot, window)
    view.form.role.setCurrentIndex(view.form.role.findData("ethics_reviewer"))
    # A role the form never offers: the use case's own check answers, shown in the form.
    view.form.role.addItem("annotator", "annotator")
    view.form.role.setCurrentIndex(view.form.role.findData("annotator"))
    view.form.set_label(-1)
    view.form.reason.setPlainText("wrong")
    view.adjudicate()
    qtbot.waitUntil(lambda: view.form.submit.isEnabled(), timeout=30_000)
    assert "only an expert or an ethics reviewer" in view.form.feedback.text()
    assert window.errors and "only an expert or an ethics reviewer" in window.errors[-1]
    assert view.queue_model.rowCount() == 1


def test_data_is_shown_as_plain_text(qtbot, window: QMainWindow) -> None:
    markup = "<b>mallory</b>"
    run(qtbot, window, lambda review: seed(review, {markup: (1, 1, 1), "bob": (1, -1, 1)}, tags=("<i>t</i>",)))
    view = open_team_view(qtbot, window)
    names = {view.reviewers.item(r, 0).text() for r in range(view.reviewers.rowCount())}
    assert markup in names
    assert "&lt;b&gt;mallory&lt;/b&gt;" in view.labels_chart.categories
    assert view.tags_chart.categories == ["&lt;i&gt;t&lt;/i&gt;"]
    assert chart_text("x" * 100).endswith("…") and len(chart_text("x" * 100)) == 24
    for label in (view.alpha, view.summary, view.form.labels, view.form.identity, view.form.feedback):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert markup in view.form.labels.text()


def test_export_writes_the_file_and_shows_the_summary(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    session_id, _ = run(qtbot, window, seed)
    dialog = menu_of(window).open_export()
    assert isinstance(dialog, ExportDialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=30_000)
    assert dialog.sessions.count() == 1
    dialog.sessions.item(0).setCheckState(Qt.CheckState.Checked)
    assert dialog.selected_sessions() == [session_id]
    dialog.set_format("trl-stepwise")
    assert dialog.neutral.isEnabled() and dialog.aggregate.isEnabled()
    dialog.neutral.setCurrentIndex(dialog.neutral.findData("drop"))
    dialog.aggregate.setCurrentIndex(dialog.aggregate.findData("strict"))
    out = tmp_path / "exports" / "stepwise.jsonl"
    out.parent.mkdir()
    with qtbot.waitSignal(dialog.exported, timeout=30_000) as signal:
        dialog.export(out)
    assert signal.args[0].startswith("trl-stepwise: wrote 1 row to")
    assert dialog.result.text() == signal.args[0]
    row = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert row["labels"] == [True, False, False]  # strict: bob's wrong wins on the second step
    manifest = json.loads(Path(str(out) + ".manifest.json").read_text(encoding="utf-8"))
    assert "drop" in json.dumps(manifest) and "strict" in json.dumps(manifest)

    reviewers = {dialog.reviewers.item(i).data(Qt.ItemDataRole.UserRole): dialog.reviewers.item(i)
                 for i in range(dialog.reviewers.count())}
    assert {"alice", "bob"} <= set(reviewers)
    reviewers["alice"].setCheckState(Qt.CheckState.Checked)  # only alice's labels count
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.export(out)
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["labels"] == [True, True, False]

    dialog.set_format("report")
    assert not dialog.neutral.isEnabled() and not dialog.reviewers.isEnabled()
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.export(tmp_path / "exports" / "report.html")
    assert (tmp_path / "exports" / "report.html").is_file()
    assert "report-html: wrote" in dialog.result.text()
    assert window.statusBar().currentMessage() == dialog.result.text()


def test_bundle_export_asks_for_the_key_passphrase(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    run(qtbot, window, seed)
    dialog = menu_of(window).open_export()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=30_000)
    dialog.set_format("bundle")
    assert dialog.passphrase.isVisible()
    assert "passphrase" in dialog.passphrase.message.text()
    assert dialog.passphrase.edit.echoMode() == dialog.passphrase.edit.EchoMode.Password

    dialog.export(tmp_path / "no-passphrase.wsbundle")  # none given: the key store says what to do
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "give one" in dialog.result.text() and window.errors
    assert not (tmp_path / "no-passphrase.wsbundle").exists()

    dialog.passphrase.edit.setText(PASSPHRASE)
    with qtbot.waitSignal(dialog.exported, timeout=30_000) as signal:
        dialog.export(tmp_path / "lead.wsbundle")
    assert signal.args[0].startswith("bundle: wrote")
    assert (tmp_path / "lead.wsbundle").is_file()

    dialog.passphrase.edit.setText("not the passphrase")
    dialog.export(tmp_path / "again.wsbundle")
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "wrong passphrase" in dialog.result.text()


def dana_bundle(tmp_path: Path) -> Callable[[Any], tuple[str, str, str]]:
    """A job that writes a bundle signed by 'dana', a teammate with her own database and key;
    returns the bundle's path, her key line and its fingerprint."""

    def job(review: Any) -> tuple[str, str, str]:
        from workstation.core.model import Reviewer
        from workstation.exchange.keys import KeyStore, TrustedKeys
        from workstation.review import Review
        from workstation.review_exchange import Exchange

        backend = PlaintextKeyring()
        backend.file_path = str(tmp_path / "dana" / "keyring.cfg")
        out = tmp_path / "dana.wsbundle"
        with Review.open(tmp_path / "dana" / "dana.duckdb", reviewer=Reviewer("dana"), values=review.values) as other:
            seed(other, {"dana": (1, -1, 1)}, question="Is 7 prime?")
            exchange = Exchange(other, keystore=KeyStore(backend, key_dir=tmp_path / "dana" / "keys"),
                                trusted=TrustedKeys(tmp_path / "dana" / "trusted.json"))
            exchange.export("bundle", out)
            key = exchange.signing_key().public
        return str(out), key.to_text().strip(), key.fingerprint

    (tmp_path / "dana").mkdir()
    return job


def test_import_from_an_unknown_signer_asks_to_trust_the_key(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    bundle, key_line, fingerprint = run(qtbot, window, dana_bundle(tmp_path))
    flow = menu_of(window).import_flow

    # Declined: nothing is imported, and the results say why.
    flow.start([bundle])
    qtbot.waitUntil(lambda: flow.trust_dialog is not None, timeout=30_000)
    dialog = flow.trust_dialog
    assert dialog.fingerprint_label.text() == fingerprint
    assert dialog.findChild(type(dialog.fingerprint_label), "trustFingerprint").textFormat() == Qt.TextFormat.PlainText
    with qtbot.waitSignal(flow.finished, timeout=30_000) as declined:
        dialog.reject()
    assert [o.status for o in declined.args[0]] == ["refused"]
    results = flow.results_dialog
    assert results.table.item(0, 1).text() == "refused" and results.table.item(0, 4).text() == "dana"
    assert "refused" in results.summary.text()
    assert run(qtbot, window, lambda review: [s.question for s in review.sessions()]) == []

    # Accepted: the key is trusted and the bundle imported, listed per bundle.
    flow.start([bundle])
    qtbot.waitUntil(lambda: flow.trust_dialog is not None, timeout=30_000)
    with qtbot.waitSignal(flow.finished, timeout=30_000) as accepted:
        flow.trust_dialog.accept()
    outcome = accepted.args[0][0]
    assert outcome.status == "imported" and outcome.new_events > 0 and outcome.signer == "dana"
    table = flow.results_dialog.table
    assert table.item(0, 0).text() == "dana.wsbundle" and table.item(0, 1).text() == "imported"
    assert int(table.item(0, 2).text()) == outcome.new_events
    assert run(qtbot, window, lambda review: [s.question for s in review.sessions()]) == ["Is 7 prime?"]

    # Again: trusted now, so no question, and nothing changes.
    with qtbot.waitSignal(flow.finished, timeout=30_000) as again:
        flow.start([bundle])
    assert flow.trust_dialog is None
    assert [(o.status, o.new_events) for o in again.args[0]] == [("unchanged", 0)]

    keys = menu_of(window).open_keys()
    qtbot.waitUntil(lambda: keys.state is not None, timeout=30_000)
    assert ("dana", fingerprint) in keys.state.trusted
    assert window.errors == []


def test_a_damaged_bundle_is_refused_and_listed(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.wsbundle"
    damaged.write_bytes(b"not a zip archive")
    flow = menu_of(window).import_flow
    with qtbot.waitSignal(flow.finished, timeout=30_000) as done:
        flow.start([damaged])
    assert flow.trust_dialog is None
    (outcome,) = done.args[0]
    assert outcome.status == "refused" and "damaged.wsbundle" in outcome.error
    table = flow.results_dialog.table
    assert table.item(0, 1).text() == "refused" and table.item(0, 6).text() == outcome.error
    assert "1 refused" in flow.results_dialog.summary.text()


def test_an_import_says_which_bundle_it_is_at(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    """Twenty bundles take seconds: the status bar names each as it starts, then clears."""
    files = []
    for name in ("first", "second", "third"):
        files.append(tmp_path / f"{name}.wsbundle")
        files[-1].write_bytes(b"not a zip archive")
    flow = menu_of(window).import_flow
    shown: list[str] = []
    window.statusBar().messageChanged.connect(shown.append)
    with qtbot.waitSignal(flow.finished, timeout=30_000):
        flow.start(files)
    assert shown[0] == "Importing 3 bundle(s)…"
    assert [m for m in shown if m.startswith("Importing bundle")] == [
        "Importing bundle 1 of 3: first.wsbundle…",
        "Importing bundle 2 of 3: second.wsbundle…",
        "Importing bundle 3 of 3: third.wsbundle…",
    ]
    assert window.statusBar().currentMessage() == ""


def test_keys_dialog_creates_copies_trusts_and_revokes(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    _, dana_line, dana_fingerprint = run(qtbot, window, dana_bundle(tmp_path))
    keys = menu_of(window).open_keys()
    assert isinstance(keys, KeysDialog)
    qtbot.waitUntil(lambda: keys.state is not None, timeout=30_000)
    assert keys.state.public_key is None and keys.create_button.isVisible()
    assert keys.passphrase.isVisible() and not keys.copy_button.isEnabled()

    keys.passphrase.edit.setText(PASSPHRASE)
    keys.create_key()
    qtbot.waitUntil(lambda: keys.state.public_key is not None, timeout=30_000)
    assert keys.own_key.text().startswith("workstation-ed25519 ") and keys.own_key.text().endswith(" lead")
    assert keys.state.fingerprint in keys.own_fingerprint.text()
    assert not keys.create_button.isVisible() and not keys.passphrase.isVisible()
    keys.copy_button.click()
    assert QGuiApplication.clipboard().text() == keys.own_key.text()
    assert ("lead", keys.state.fingerprint) in keys.state.trusted  # your own key

    keys.paste.setPlainText(dana_line)
    keys.trust()
    qtbot.waitUntil(lambda: ("dana", dana_fingerprint) in keys.state.trusted, timeout=30_000)
    assert dana_fingerprint in keys.result_label.text()
    rows = {keys.trusted.item(r, 1).text(): keys.trusted.item(r, 0).text() for r in range(keys.trusted.rowCount())}
    assert rows[dana_fingerprint] == "dana"

    keys.revoke(dana_fingerprint)
    qtbot.waitUntil(lambda: ("dana", dana_fingerprint) not in keys.state.trusted, timeout=30_000)

    key_file = tmp_path / "dana.pub"
    key_file.write_text(dana_line + "\n", encoding="utf-8")
    keys.trust_from_file(key_file)
    qtbot.waitUntil(lambda: ("dana", dana_fingerprint) in keys.state.trusted, timeout=30_000)

    keys.paste.setPlainText("not a key")
    keys.trust()
    qtbot.waitUntil(lambda: "not a workstation public key" in keys.result_label.text(), timeout=30_000)
    assert window.errors and "not a workstation public key" in window.errors[-1]


def test_passphrase_variable_matches_the_cli() -> None:
    from workstation.cli_exchange import PASSPHRASE_VARIABLE as CLI_VARIABLE

    assert PASSPHRASE_VARIABLE == CLI_VARIABLE


def test_the_thread_guard_sees_store_use_on_the_gui_thread(tmp_path: Path, gui_thread_uses: list[str]) -> None:
    from workstation.store.store import Store

    store = Store.open(tmp_path / "guard.duckdb")
    try:
        store.list_sessions()
    finally:
        store.close()
    assert "Store.list_sessions" in gui_thread_uses
    gui_thread_uses.clear()


def test_session_filter_narrows_the_figures_and_the_queue(qtbot, window: QMainWindow) -> None:
    first, _ = run(qtbot, window, seed)
    agreed = {"alice": (1, 1, 1), "bob": (1, 1, 1), "carol": (1, 1, 1)}
    second, _ = run(qtbot, window, lambda review: seed(review, agreed, question="What is 2 + 2?"))
    view = open_team_view(qtbot, window)
    assert view.scope.count() == 3  # all sessions, then each session by its title
    assert {view.scope.itemText(i) for i in range(1, 3)} == {"What is 12 * 4 + 2?", "What is 2 + 2?"}
    assert "2 session(s), 3 reviewer(s), 1 disagreement(s)" in view.summary.text()

    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        view.choose_session(second)
    assert view.data is not None and view.data.scope == second
    assert "1 session(s), 3 reviewer(s), 0 disagreement(s)" in view.summary.text()
    assert view.queue_model.rowCount() == 0
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        view.choose_session(first)
    assert "1 session(s), 2 reviewer(s), 1 disagreement(s)" in view.summary.text()
    assert view.queue_model.rowCount() == 1
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        view.refresh()  # a refresh keeps the choice
    assert view.chosen_session() == first and view.data.scope == first

    run(qtbot, window, lambda review: review.delete_session(first))
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        view.refresh()  # the chosen session is gone: the view covers all that are left
    assert view.chosen_session() == "" and view.scope.count() == 2
    assert "1 session(s), 3 reviewer(s), 0 disagreement(s)" in view.summary.text()


def test_installs_on_the_workstation_window(qtbot, open_window, gui_thread_uses: list[str]) -> None:
    from workstation.ui.main_window import MainWindow

    win: MainWindow = open_window()
    install_team_menu(win, win.backend, win.session.open_session)
    titles = [a.text() for a in win.menuBar().actions()]
    assert titles[-2:] == ["&Team", "&Help"]
    # No key of the Team menu is taken already (Redo lists Ctrl+Y twice itself: counted once).
    shortcuts = [k for a in win.findChildren(QAction) for k in {s.toString() for s in a.shortcuts()}]
    assert len(shortcuts) == len(set(shortcuts)), sorted(shortcuts)
    menu = menu_of(win)
    view = open_team_view(qtbot, win)
    assert view.data is not None and view.data.reviewer_id == win.reviewer_id
    dialog = menu.open_export()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=30_000)
    assert dialog.sessions.count() == win.parts.sessions.list.topLevelItemCount()
    dialog.close()

    # A disagreement in the queue opens in the window's tree.
    session_id, ids = run(qtbot, win, seed)
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        view.refresh()
    view.select_node(ids[1])
    view.form.show_step.click()
    qtbot.waitUntil(lambda: win.session.state is not None and win.session.state.session_id == session_id, timeout=30_000)
    qtbot.waitUntil(lambda: win.session.current_node_id == ids[1], timeout=30_000)
    assert win.parts.messages.level != "error", win.parts.messages.text()

    # An adjudication in the Team view is in its session's history: the window's Undo names it
    # (the state refreshed with the adjudication says so) and reverses it.
    view.form.set_label(1)
    view.form.reason.setPlainText("48 + 2 is 50.")
    with qtbot.waitSignal(view.adjudicated, timeout=30_000):
        view.adjudicate()
    qtbot.waitUntil(lambda: view.queue_model.rowCount() == 0, timeout=30_000)
    undo = win.parts.actions["undo"]
    qtbot.waitUntil(lambda: undo.isEnabled() and "settle" in undo.text(), timeout=30_000)
    assert undo.text().startswith("&Undo settle step ") and undo.text().endswith(" as right")
    with qtbot.waitSignal(view.refreshed, timeout=30_000):
        undo.trigger()  # the adjudication is reversed: the step is back in the queue
    qtbot.waitUntil(lambda: view.queue_model.rowCount() == 1, timeout=30_000)
    assert win.parts.messages.level != "error", win.parts.messages.text()
