"""Hostile text in steps: stored exactly, shown literally, exported escaped, printed inert.

Model output arrives as steps the way the review use cases store it (`Review.add_steps`, then a
rewrite and a note carrying the same text); a signed bundle carries the same sessions into a
second database. The rule for what cannot be stored: a lone surrogate (no UTF-8 file holds one)
becomes U+FFFD where text enters (`workstation.core.text.clean`); everything else, NUL, control
and bidi characters included, is kept byte for byte. Leading and trailing whitespace of a
rewrite or a note is trimmed, as the use cases always did.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import keyring.backends.fail
import pyarrow.parquet as pq
import pytest

from tests.reliability.hostile_texts import CORPUS, expected, mixed
from tests.ui.conftest import db_path, fast_settings, open_window  # noqa: F401 (fixtures)
from workstation.cli import main as cli_main
from workstation.core import build
from workstation.core.history import History
from workstation.core.model import Reviewer
from workstation.core.splitter import split
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.export import TREE_FORMATS, export
from workstation.exchange.keys import KeyStore, TrustedKeys
from workstation.review import Review
from workstation.review_exchange import Exchange
from workstation.store.errors import StoreError

ANA = Reviewer("ana", "annotator")
#: What a terminal acts on: ESC and other C0 controls (tab and newline print as they are), DEL,
#: C1 controls, bidi overrides.
TERMINAL_ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SURROGATE = re.compile("[\ud800-\udfff]")


def corpus(size) -> dict[str, str]:
    return {**CORPUS, **mixed(size.pick(0, 300))}


def build_sessions(db: Path, texts: dict[str, str]) -> dict[str, dict]:
    """One session per text: question, two steps (as model output arrives), a rewrite, a note."""
    made: dict[str, dict] = {}
    with Review.open(db, reviewer=ANA) as review:
        # Paragraph steps: a hostile text's lines stay in its one step (line mode would split them).
        review.values["review.split"] = "paragraphs"
        for name, text in texts.items():
            tree = review.start(f"Question {name}: {text}", title=f"{name} {text[:300]}")
            sid = tree.session.id
            review.add_steps(sid, f"Step 1: {text}\n\nStep 2: so the answer is 4.")
            steps = [n for n in review.tree(sid).shown_path() if n.kind != "question"]
            review.annotate(steps[0].id, 1, note=text, tags=("hostile",))
            if len(steps) > 1:  # an unclosed code fence keeps the rest in one step
                review.annotate(steps[-1].id, -1)
            review.rewrite(steps[-1].id, text)
            made[name] = {"session": sid, "first": steps[0].id, "last": steps[-1].id}
    return made


@pytest.fixture(scope="module")
def hostile_source(tmp_path_factory, size) -> tuple[Path, dict[str, str], dict[str, dict]]:
    """The sessions, built once for the module (under their own home folder, never the user's)."""
    folder = tmp_path_factory.mktemp("hostile")
    texts = corpus(size)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKSTATION_HOME", str(folder / "home"))
        made = build_sessions(folder / "source.duckdb", texts)
    return folder / "source.duckdb", texts, made


@pytest.fixture
def hostile(hostile_source, db_path: Path) -> tuple[Path, dict[str, str], dict[str, dict]]:  # noqa: F811
    """A copy of the hostile sessions' database for one test, at the window tests' `db_path`."""
    source, texts, made = hostile_source
    shutil.copyfile(source, db_path)
    return db_path, texts, made


def all_version_texts(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT id, text FROM versions").fetchall())
    finally:
        con.close()


# -- stored exactly -----------------------------------------------------------------------------


def test_hostile_text_is_stored_exactly(hostile, figures) -> None:
    db, texts, made = hostile
    with Review.open(db, reviewer=ANA) as review:
        # Paragraph steps: a hostile text's lines stay in its one step (line mode would split them).
        review.values["review.split"] = "paragraphs"
        for name, text in texts.items():
            want = expected(text)
            tree = review.tree(made[name]["session"])
            assert tree.question.text == expected(f"Question {name}: {text}")
            assert want.strip() in tree.node(made[name]["first"]).original.text
            assert tree.node(made[name]["last"]).text == want.strip()
            note = tree.current_annotations(made[name]["first"])["ana"].note
            assert note == want.strip()
            if SURROGATE.search(text):
                assert "\ufffd" in tree.question.text and not SURROGATE.search(tree.question.text)
        in_memory = {
            v.id: v.text
            for s in review.sessions()
            for n in review.tree(s.id).nodes.values()
            for v in n.versions
        }
    # Read back by DuckDB itself, byte for byte.
    stored = all_version_texts(db)
    assert stored.keys() == in_memory.keys()
    for version_id, text in in_memory.items():
        assert stored[version_id].encode("utf-8") == text.encode("utf-8")
    con = duckdb.connect(str(db), read_only=True)
    try:
        notes = {row[0] for row in con.execute("SELECT note FROM annotations WHERE note <> ''").fetchall()}
    finally:
        con.close()
    assert notes == {expected(t).strip() for t in texts.values()}
    figures.add("hostile texts checked", len(texts))


def test_a_lone_surrogate_past_the_use_cases_is_refused_by_the_store(hostile) -> None:
    """The store's own line: an operation built without the use cases (so not cleaned) is refused
    with a clear message, and nothing of it is saved."""
    db, _texts, made = hostile
    with Review.open(db, reviewer=ANA) as review:
        sid = made["script"]["session"]
        tree = review.tree(sid)
        before = len(review.store.events(sid))
        op = build.rewrite(tree, made["script"]["last"], "bad \ud800 text", ANA)
        with pytest.raises(StoreError, match="lone surrogate") as caught:
            review.store.apply(sid, op, ANA)
        assert str(db) in str(caught.value)
        assert len(review.store.events(sid)) == before
        assert review.tree(sid).node(made["script"]["last"]).text == expected(CORPUS["script"])


# -- exported escaped ---------------------------------------------------------------------------


class _Page(HTMLParser):
    """Every tag, attribute and piece of text of an HTML page, as a browser's parser sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data) -> None:
        self.text.append(data)

    def handle_comment(self, data) -> None:
        self.tags.append("!--")

    def handle_pi(self, data) -> None:
        self.tags.append("?")

    def unknown_decl(self, data) -> None:
        self.tags.append("!")


#: The tags the report itself writes (pygments adds spans and pre in highlighted code).
REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "span", "strong", "pre"}
_LINE_END = re.compile(r"\r\n|\r|\n")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def markdown_blocks(text: str) -> tuple[list[str], list[str]]:
    """(code block contents, lines outside code blocks) of a CommonMark document (fences only)."""
    blocks, outside = [], []
    fence, current = "", []
    for line in _LINE_END.split(text):
        if fence:
            close = re.match(r" {0,3}(`+|~+)[ \t]*$", line)
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                blocks.append("\n".join(current))
                fence, current = "", []
            else:
                current.append(line)
            continue
        m = _FENCE_OPEN.match(line)
        if m:
            fence = m.group(1)
        else:
            outside.append(line)
    assert not fence, "a code block is left open"
    return blocks, outside


def json_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return []


def test_exports_carry_hostile_text_exactly_and_escaped(hostile, tmp_path: Path, figures) -> None:
    db, texts, made = hostile
    out = tmp_path / "exports"
    with Review.open(db, reviewer=ANA) as review:
        exchange = Exchange(review)
        results = {fmt: exchange.export(fmt, out / f"export.{fmt}") for fmt in (*TREE_FORMATS, "parquet")}
    wanted = {name: expected(t).strip() for name, t in texts.items()}

    # JSON Lines: every line parses, and json.loads gives back the exact text.
    for fmt in ("trl-stepwise", "kto", "prm800k", "trl-preference"):
        content = (out / f"export.{fmt}").read_bytes().decode("utf-8")
        lines = content.split("\n")[:-1] if content else []
        assert len(lines) == results[fmt].rows
        # One row per line for every reader, also one that splits at Unicode line breaks.
        assert content.splitlines() == lines
        strings = [s for line in lines for s in json_strings(json.loads(line))]
        if fmt != "trl-preference":  # preference pairs need alternatives; there are none here
            assert lines, fmt
            for name, want in wanted.items():
                assert any(want in s for s in strings), (fmt, name)
        assert not any(SURROGATE.search(s) for s in strings)

    # Parquet: the versions table reads back exactly what the database holds.
    parquet_texts = dict(zip(*pq.read_table(out / "export.parquet" / "versions.parquet", columns=["id", "text"])
                             .to_pydict().values()))
    assert parquet_texts == all_version_texts(db)

    # HTML: no tag, attribute, comment or declaration from the text; the text itself visible.
    page = _Page()
    page.feed((out / "export.report").read_bytes().decode("utf-8"))
    page.close()
    assert set(page.tags) <= REPORT_TAGS, set(page.tags) - REPORT_TAGS
    assert page.tags.count("style") == 1 and page.tags.count("title") == 1
    names = {name for name, _ in page.attributes}
    assert names <= {"lang", "charset", "class", "id"}, names
    visible = "".join(page.text)
    for name, want in wanted.items():
        if name != "md-fence-break":  # its fenced part is highlighted code, shown without the fences
            assert want in visible, name
    assert "<script>alert(1)</script>" in visible

    # Markdown: step text only inside code fences that nothing in it can close; titles and notes
    # escaped on one line; nothing outside the fences is a tag, a heading or a link of the text's.
    markdown = (out / "export.report-md").read_bytes().decode("utf-8")
    blocks, outside = markdown_blocks(markdown)
    for name, want in wanted.items():
        assert any(_LINE_END.sub("\n", want) in b for b in blocks), name
    headings = [line for line in outside if line.lstrip().startswith("#")]
    assert all(re.match(r"(# Reasoning review report|## |### (Step \d+|Answer) |#### Other branch)", h)
               for h in headings), [h[:80] for h in headings if not h.startswith(("## ", "### ", "#### "))]
    assert sum(h.startswith("## ") for h in headings) == len(texts)
    for line in outside:
        assert not re.match(r" {0,3}(=+|-+) *$", line) or not line.strip(), line[:80]  # no setext heading
        assert not re.search(r"(?<!\\)[<\[]", line), line[:120]  # every < and [ is escaped
    figures.add("hostile texts checked", len(texts) * 6)


def test_trees_with_lone_surrogates_export_cleanly(tmp_path: Path) -> None:
    """The bug this suite found: a tree built in memory (not read from a store) with a lone
    surrogate in a step made every text export fail with UnicodeEncodeError. Now the exports
    write U+FFFD in its place and succeed."""
    raw = "Step 1: 12 * 4 = 48 \ud800 done.\n\nStep 2: The answer is \udcff 48."
    start = build.start_session("What is 12 * 4? \udfff", "chain-of-thought", "1", ANA)
    history, _ = History.start(start, ANA)
    tree = history.tree
    history.apply(build.steps_added(tree, tree.question_id, raw, split(raw), ANA, "chain-of-thought", "1"), ANA)
    first = history.tree.shown_path()[1]
    history.apply(build.annotate(history.tree, first.id, ANA, 1, "note \ud801", (), None), ANA)
    second = history.tree.shown_path()[2]
    history.apply(build.rewrite(history.tree, second.id, "The answer is 48 \ud802.", ANA), ANA)
    reviews = ReviewSet.from_trees([history.tree])
    for fmt in TREE_FORMATS:
        path = tmp_path / f"out.{fmt}"
        export(reviews, fmt, path)
        written = path.read_bytes().decode("utf-8")  # strict: valid UTF-8
        assert "\ufffd" in written and not SURROGATE.search(written), fmt


# -- printed inert --------------------------------------------------------------------------


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_cli_show_prints_escape_sequences_inert(hostile, figures) -> None:
    db, texts, made = hostile
    for name, text in texts.items():
        sid = made[name]["session"]
        status, out, err = run_cli("show", sid, "--db", str(db))
        assert status == 0, err
        assert not TERMINAL_ACTIVE.search(out), (name, TERMINAL_ACTIVE.search(out))
        assert not SURROGATE.search(out)
        status, out, err = run_cli("show", sid, "--db", str(db), "--json")
        assert status == 0, err
        assert not TERMINAL_ACTIVE.search(out), name  # JSON escapes them; json.loads restores them
        shown = json.loads(out)
        node = next(n for n in shown["nodes"] if n["id"] == made[name]["last"])
        assert node["versions"][-1]["text"] == expected(text).strip()
    # What the escapes look like: visible, and the same for every run.
    status, out, _ = run_cli("show", made["ansi-colour"]["session"], "--db", str(db))
    assert "\\x1b[31mred\\x1b[0m" in out
    status, out, _ = run_cli("sessions", "--db", str(db))
    assert status == 0 and not TERMINAL_ACTIVE.search(out)
    figures.add("hostile texts checked", len(texts))


# -- through a signed bundle ----------------------------------------------------------------


def test_a_bundle_carries_hostile_text_exactly(hostile, tmp_path: Path, figures) -> None:
    db, texts, _made = hostile
    keys = KeyStore(keyring.backends.fail.Keyring(), key_dir=tmp_path / "keys")
    trusted = TrustedKeys(tmp_path / "trusted.json")
    bundle = tmp_path / "hostile.wsbundle"
    with Review.open(db, reviewer=ANA) as review:
        Exchange(review, keystore=keys, trusted=trusted).export("bundle", bundle, passphrase="pass phrase")
    other = tmp_path / "other.duckdb"
    with Review.open(other, reviewer=Reviewer("bo", "expert")) as review:
        result = Exchange(review, keystore=keys, trusted=TrustedKeys(tmp_path / "t2.json")).import_bundles(
            [bundle], trust_new_signers=True
        )
        assert result.ok, result.summary()
    assert all_version_texts(other) == all_version_texts(db)
    figures.add("hostile texts checked", len(texts))


# -- shown literally ------------------------------------------------------------------------


@pytest.mark.qt
def test_the_window_shows_hostile_text_literally(qtbot, open_window, hostile, figures) -> None:  # noqa: F811
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocument
    from PySide6.QtGui import Qt as QtGui

    mightBeRichText = QtGui.mightBeRichText  # noqa: N806
    from PySide6.QtWidgets import QLabel

    from workstation.ui.inspector import SHOWN_LIMIT, shown_text
    from workstation.ui.tree_model import COL_STEP, one_line

    _db, texts, made = hostile
    window = open_window()
    model = window.parts.tree_model
    for name, text in texts.items():
        sid = made[name]["session"]
        window.session.open_session(sid)
        qtbot.waitUntil(lambda: window.session.state is not None and window.session.state.session_id == sid, timeout=20_000)
        for node_id in (made[name]["first"], made[name]["last"]):
            node = window.session.state.tree.node(node_id)
            index = model.index_of_node(node_id, COL_STEP)
            assert index.isValid()
            shown = model.data(index, Qt.ItemDataRole.DisplayRole)
            assert shown.endswith(one_line(node.text))  # a row: the text on one line, as text
            # The tooltip is rich text in which the step is escaped: rendered, it is the text.
            tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
            document = QTextDocument()
            document.setHtml(tip)
            rendered = document.toRawText()
            assert _qt_plain(node.text[:2000]) == _qt_plain(rendered), name
            window.session.select(node_id)
            qtbot.waitUntil(lambda: window.session.current_node_id == node_id)
            assert _qt_plain(window.parts.inspector.text.toPlainText()) == _qt_plain(shown_text(node.text)), name
            if len(node.text) > SHOWN_LIMIT:  # the rest is not silently dropped: a note says so
                assert window.parts.inspector.text.toPlainText().endswith("the full text is kept]")
            # Every label of the inspector is plain text, or a fixed caption that holds no markup.
            for label in window.parts.inspector.findChildren(QLabel):
                assert label.textFormat() == Qt.TextFormat.PlainText or not mightBeRichText(label.text())
    figures.add("hostile texts checked", len(texts))


def _qt_plain(text: str) -> str:
    """Text as a Qt text document holds it: every line break one paragraph, NBSP a space."""
    return re.sub(r"\r\n|[\r\n\u2028\u2029]", "\n", text).replace("\u00a0", " ")
