"""The review report: everything shown, model text escaped, code highlighted, self-contained."""

from __future__ import annotations

import re
from pathlib import Path

from tests.exchange.factory import rich_review
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.export import export


def _reviews() -> ReviewSet:
    r, _ = rich_review()
    return ReviewSet.from_trees([r.tree], r.event_dicts())


def test_html_report_escapes_model_text_and_highlights_code(tmp_path: Path) -> None:
    result = export(_reviews(), "report", tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page  # the model's `<script>` shows as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Show &lt;b&gt;work&lt;/b&gt;" in page
    # Self-contained: no external resources.
    assert not re.search(r"(src|href)=", page)
    # Pygments highlighted the python block (its token classes are there, styles inline).
    assert 'class="hl"' in page and '<span class="nb">print</span>' in page
    # Labels, notes, tags, flags, versions, challenges and both branches.
    for text in ("wrong (-1)", "right (+1)", "12 * 4 is 48", "arithmetic error", "⚑", "the model wrote",
                 "Why add 2?", "Because the question says + 2.", "Other branch from step 2",
                 "Step 2: 48 + 2 = 50", "Step 2: 46 + 2 = 48"):
        assert text in page, text
    assert result.rows == 7  # 4 steps on the preferred path + 3 on the other branch


def test_markdown_report_fences_model_text(tmp_path: Path) -> None:
    export(_reviews(), "report-md", tmp_path / "report.md")
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "```text\nStep 2: 46 + 2 = 48 <script>alert(1)</script>\n```" in text
    # A step holding a ``` fence is fenced with a longer one.
    assert "````text\nStep 3: check with code" in text
    assert "wrong (-1)" in text and "Other branch from step 2" in text
