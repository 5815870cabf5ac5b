"""A review report a person reads: self-contained HTML, or Markdown.

For every session: the question, the preferred branch step by step (current text, the model's
original where a reviewer rewrote it, every reviewer's label, notes, tags, severity, automated
flags, challenges and the model's replies), then every other branch. Model and reviewer text
is always escaped (HTML) or fenced (Markdown): a step that says `<script>` shows as text.
Fenced code in a step is highlighted with pygments; the HTML carries its own styles, no links.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import IO

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from workstation.core.model import ROLE_NAMES, Annotation, Node
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
from workstation.exchange.corpus import ReviewSet, chain_steps, continuation, model_version
from workstation.exchange.labels import LabelIndex
from workstation.exchange.result import AtomicWriter, ExportResult, write_manifest

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]{0,3}\1[ \t]*$", re.M | re.S)
_LABEL_WORDS = {1: "right (+1)", 0: "neutral (0)", -1: "wrong (-1)"}
_LABEL_CLASS = {1: "good", 0: "neutral", -1: "bad"}
_LABEL_HTML = {v: f"<span class=\"label {_LABEL_CLASS[v]}\">{w}</span>" for v, w in _LABEL_WORDS.items()}
_FORMATTER = HtmlFormatter(cssclass="hl")
_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}
.step{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem;margin:.7rem 0}
.step.answer{border-color:#7a7}.meta{color:#666;font-size:.85rem}
.text{white-space:pre-wrap;margin:.4rem 0}.orig{color:#888;text-decoration:line-through}
.label{display:inline-block;border-radius:4px;padding:0 .4rem;margin-right:.3rem;font-size:.85rem}
.good{background:#dfd}.neutral{background:#eee}.bad{background:#fdd}
.flag{color:#a50;font-size:.85rem}.challenge{margin-left:1.5rem;border-left:3px solid #99c;padding-left:.6rem}
.branch{margin-left:1rem;border-left:3px dashed #bbb;padding-left:.6rem}
"""


def export_report(reviews: ReviewSet, out: Path, fmt: str = "html") -> ExportResult:
    """Write the report as `html` (self-contained page) or `md` (Markdown)."""
    name = "report-html" if fmt == "html" else "report-md"
    result = ExportResult(name, Path(out))
    with AtomicWriter(result.path) as f:
        writer = _Html(f) if fmt == "html" else _Markdown(f)
        writer.begin(len(reviews.trees))
        for tree in reviews.trees:
            index = LabelIndex(tree, reviews.adjudications)
            steps = chain_steps(tree.preferred_path())
            # One pass over the nodes tells which steps have alternatives or challenges at all,
            # so the many that have neither skip looking (most of a 100,000-step export).
            alternatives: Counter[str | None] = Counter()
            writer.asked = set()
            for n in tree.nodes.values():
                if n.kind in CHAIN_NODE_KINDS:
                    alternatives[n.parent_id] += 1
                elif n.kind == "challenge":
                    writer.asked.add(n.parent_id)
            writer.session(tree)
            if not steps:
                result.skip(tree.session.id, "session", "no model steps")
            for node in steps:
                writer.step(tree, index, node, reviews.model_of(tree, node))
                result.rows += 1
            on_path = {n.id for n in steps}
            for node in steps:
                assert node.parent_id is not None
                if alternatives[node.parent_id] < 2:
                    continue
                for alt in tree.children(node.parent_id, CHAIN_NODE_KINDS):
                    if alt.id in on_path:
                        continue
                    branch = continuation(tree, alt)
                    writer.branch_start(alt)
                    for other in branch:
                        writer.step(tree, index, other, reviews.model_of(tree, other))
                        result.rows += 1
                    writer.branch_end()
        writer.end()
    write_manifest(result, sessions=[t.session.id for t in reviews.trees], rows_are="steps shown")
    return result


class _Html:
    def __init__(self, f: IO[str]) -> None:
        self.f = f
        self.asked: set[str | None] = set()  # the session's nodes with challenges

    def begin(self, sessions: int) -> None:
        self.f.write(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Reasoning review report</title><style>" + _CSS + _FORMATTER.get_style_defs(".hl")
            + f"</style></head><body>\n<h1>Reasoning review report</h1><p class=\"meta\">{sessions} session(s)</p>\n"
        )

    def session(self, tree: Tree) -> None:
        s = tree.session
        e = html.escape
        self.f.write(
            f"<h2>{e(s.title)}</h2><p class=\"meta\">session {e(s.id)} · template {e(s.template_name)} "
            f"{e(s.template_version)} · started {e(s.created_at)} by {e(s.reviewer_id)}</p>\n"
            f"<div class=\"step question\"><strong>Question</strong>{_html_text(tree.question.text)}</div>\n"
        )

    def step(self, tree: Tree, index: LabelIndex, node: Node, model: str) -> None:
        e = html.escape
        out = [f"<div class=\"step {node.kind}\" id=\"n{e(node.id)}\"><strong>"
               f"{'Answer' if node.kind == 'answer' else 'Step ' + str(node.position)}</strong> "
               f"<span class=\"meta\">{e(node.id)}{' · ' + e(model) if model else ''}</span>"]
        out.append(_html_text(node.text))
        if node.current.origin == "rewrite":
            rewriter = node.current.author
            out.append(f"<div class=\"meta\">rewritten by {e(rewriter)}; the model wrote:</div>"
                       f"<div class=\"orig\">{_html_text(model_version(node).text)}</div>")
            for flag in model_version(node).flags:
                out.append(f"<div class=\"flag\">⚑ model text: {e(flag.check)}: {e(flag.message)}</div>")
        for flag in node.current.flags:
            out.append(f"<div class=\"flag\">⚑ {e(flag.check)}: {e(flag.message)}</div>")
        for a in index.by_node.get(node.id, ()):
            out.append(_html_annotation(a, a.version_id != node.current_version_id, a.id in index.adjudication_ids))
        for challenge in tree.challenges(node.id) if node.id in self.asked else ():
            out.append(f"<div class=\"challenge\"><strong>Challenge</strong> <span class=\"meta\">by "
                       f"{e(challenge.current.author)}</span>{_html_text(challenge.text)}")
            for reply in tree.replies(challenge.id):
                out.append(f"<strong>Reply</strong>{_html_text(reply.text)}")
            out.append("</div>")
        out.append("</div>\n")
        self.f.write("".join(out))

    def branch_start(self, node: Node) -> None:
        self.f.write(f"<div class=\"branch\"><p class=\"meta\">Other branch from step {node.position}</p>\n")

    def branch_end(self) -> None:
        self.f.write("</div>\n")

    def end(self) -> None:
        self.f.write("</body></html>\n")


@lru_cache(maxsize=4096)
def _html_who(reviewer_id: str, role: str, adjudication: bool) -> str:
    # The same few reviewers appear on every step: their escaped markup is made once.
    e = html.escape
    return (f"<strong>{e(reviewer_id)}</strong> <span class=\"meta\">{e(ROLE_NAMES.get(role, role))}"
            f"{' · adjudication' if adjudication else ''}</span>")


def _html_annotation(a: Annotation, earlier: bool, adjudication: bool) -> str:
    parts = []
    if a.label is not None:
        parts.append(_LABEL_HTML[a.label])
    if earlier:
        parts.append("<span class=\"meta\">(on an earlier version)</span>")
    parts.append(_html_who(a.reviewer_id, a.role, adjudication))
    if a.severity:
        parts.append(f"<span class=\"meta\">severity {html.escape(a.severity)}</span>")
    if a.tags:
        parts.append("<span class=\"meta\">tags: " + html.escape(", ".join(a.tags)) + "</span>")
    if a.note:
        parts.append(f"<div class=\"text\">{html.escape(a.note)}</div>")
    return "<div>" + " ".join(parts) + "</div>"


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer:
    # Looking a lexer up by name scans pygments' registry: once per language is enough.
    try:
        return get_lexer_by_name(name) if name else TextLexer()
    except ClassNotFound:
        return TextLexer()


@lru_cache(maxsize=2048)
def _highlighted(code: str, language: str) -> str:
    # A code block often comes back: the model's original beside a rewrite, alternatives that
    # keep the code, a reply quoting it. Highlighting is the report's costliest step.
    return str(highlight(code, _lexer(language), _FORMATTER))


def _html_text(text: str) -> str:
    """Text as HTML: escaped, with fenced code blocks highlighted by pygments."""
    if "```" not in text and "~~~" not in text:
        return f"<div class=\"text\">{html.escape(text)}</div>"
    parts = []
    pos = 0
    for m in _FENCE.finditer(text):
        if m.start() > pos:
            parts.append(f"<div class=\"text\">{html.escape(text[pos:m.start()])}</div>")
        parts.append(_highlighted(m.group(3), m.group(2).lower()))
        pos = m.end()
    if pos < len(text) or not parts:
        parts.append(f"<div class=\"text\">{html.escape(text[pos:])}</div>")
    return "".join(parts)


_BACKTICKS = re.compile(r"`+")
#: Every character Markdown (or HTML inside it) could read as markup, backslash-escaped; line
#: endings (CommonMark counts a lone CR as one) become spaces, so a title cannot start a line.
_MD_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+!|~-"} | {"\n": " ", "\r": " "})


def _md_block(text: str) -> str:
    """Text fenced so that nothing in it is read as Markdown or HTML."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0) if "`" in text else 0
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def _md_inline(text: str) -> str:
    return text.translate(_MD_ESCAPES)


class _Markdown:
    def __init__(self, f: IO[str]) -> None:
        self.f = f
        self.asked: set[str | None] = set()  # the session's nodes with challenges

    def begin(self, sessions: int) -> None:
        self.f.write(f"# Reasoning review report\n\n{sessions} session(s)\n")

    def session(self, tree: Tree) -> None:
        s = tree.session
        self.f.write(f"\n## {_md_inline(s.title)}\n\nsession `{s.id}`, template {_md_inline(s.template_name)} "
                     f"{_md_inline(s.template_version)}, started {s.created_at}\n\n**Question**\n\n"
                     + _md_block(tree.question.text))

    def step(self, tree: Tree, index: LabelIndex, node: Node, model: str) -> None:
        title = "Answer" if node.kind == "answer" else f"Step {node.position}"
        out = [f"\n### {title} (`{node.id}`{', ' + _md_inline(model) if model else ''})\n\n", _md_block(node.text)]
        if node.current.origin == "rewrite":
            out.append(f"\nRewritten by {_md_inline(node.current.author)}; the model wrote:\n\n"
                       + _md_block(model_version(node).text))
            for flag in model_version(node).flags:
                out.append(f"\n- flag on the model's text {_md_inline(flag.check)}: {_md_inline(flag.message)}")
        for flag in node.current.flags:
            out.append(f"\n- flag {_md_inline(flag.check)}: {_md_inline(flag.message)}")
        for a in index.by_node.get(node.id, ()):
            bits = [f"- **{_md_inline(a.reviewer_id)}** ({_md_inline(ROLE_NAMES.get(a.role, a.role))})"]
            if a.label is not None:
                bits.append(_LABEL_WORDS[a.label])
            if a.version_id != node.current_version_id:
                bits.append("(on an earlier version)")
            if a.severity:
                bits.append(f"severity {_md_inline(a.severity)}")
            if a.tags:
                bits.append("tags: " + _md_inline(", ".join(a.tags)))
            if a.note:
                bits.append("note: " + _md_inline(a.note))
            out.append("\n" + " ".join(bits))
        for challenge in tree.challenges(node.id) if node.id in self.asked else ():
            out.append("\n\n**Challenge**\n\n" + _md_block(challenge.text))
            for reply in tree.replies(challenge.id):
                out.append("\n**Reply**\n\n" + _md_block(reply.text))
        out.append("\n")
        self.f.write("".join(out))

    def branch_start(self, node: Node) -> None:
        self.f.write(f"\n#### Other branch from step {node.position}\n")

    def branch_end(self) -> None:
        self.f.write("\n")

    def end(self) -> None:
        self.f.write("")
