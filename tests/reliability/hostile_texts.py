"""A corpus of hostile text: what a model (or a teammate's bundle) may write into a step.

Markup that a viewer could run, terminal escape sequences, bidi overrides, NUL, lone surrogates,
one very long line, invisible and combining characters, and every kind of line break.
"""

from __future__ import annotations

import random

from workstation.core.text import clean

#: name -> text. None of them holds a blank line, so the splitter keeps each in one step.
CORPUS: dict[str, str] = {
    "script": "<script>alert(1)</script>",
    "img-onerror": '<img src=x onerror="alert(document.cookie)">',
    "iframe": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "close-and-reopen": "</div></div></body><script>fetch('//evil')</script><div>",
    "javascript-link": '<a href="javascript:alert(1)">click</a> javascript:alert(1)',
    "svg-onload": "<svg/onload=alert(1)>",
    "style": "<style>body{display:none}</style>",
    "entities": "&lt;b&gt; &amp;amp; &#60;script&#62; &quot;",
    "comment-cdata": "<!-- x --> <![CDATA[ y ]]> <?php echo 1; ?>",
    "markdown": "**bold** _it_ [x](javascript:alert(1)) ![i](http://evil/x.png) `code` ``` # h | a | <b>",
    "md-fence-break": "line\n```\n<script>alert(1)</script>\n~~~~\n```html",
    "md-heading-cr": "title\r# injected heading\r<script>alert(1)</script>\r===",
    "json-breakers": '"}, {"prompt": "x", "label": true} \\" \\u0000 \\ud800',
    "sql": "'); DROP TABLE versions; --",
    "ansi-colour": "\x1b[31mred\x1b[0m \x1b[1;5mblink\x1b[m",
    "ansi-osc": "\x1b]0;pwned title\x07 \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ \x1b[2J\x1b[H",
    "ansi-c1": "\x9b31mCSI\x9b0m \x9d0;osc\x9c \x85next-line",
    "bell-backspace": "abc\x08\x08\x08XYZ\x07 \x7f del \x0b\x0c",
    "carriage-return": "safe text\rEVIL overwrite\r\nwindows line\rold mac",
    "rtl-override": "total \u202e0001$\u202c is right \u2067isolated\u2069 \u200f\u200e\u061c",
    "nul": "a\x00b \x00 end\x00",
    "lone-high-surrogate": "x\ud800y",
    "lone-low-surrogate": "\udcff at start, and \udfff",
    "zero-width": "a\u200bb\u200cc\u200dd\ufefffeff\u2060e\u00adf",
    "combining": "e\u0301" * 20 + " Z\u0334\u0327\u031b\u0316\u0317\u034e\u031c\u0316a\u0308\u0301\u0350" * 10,
    "astral": "\U0001f600 \U0001f469\u200d\U0001f469\u200d\U0001f467 \U00010348 \U0010fffd",
    "line-separators": "one\u2028two\u2029three\x1cfour\x1dfive\x1esix",
    "tabs-spaces": "\t indented \t\t  trailing   \u00a0nbsp\u3000ideographic",
    "long-line": "A" * 1_048_576 + "<script>alert('end of a 1 MB line')</script>",
}


def expected(text: str) -> str:
    """What the workstation keeps of `text`: everything but lone surrogates (U+FFFD instead)."""
    return clean(text)


def mixed(count: int, seed: int = 0) -> dict[str, str]:
    """Random mixtures of corpus pieces (short ones), for the full-size run."""
    rng = random.Random(seed)
    pieces = [t for t in CORPUS.values() if len(t) < 1000]
    return {f"mix-{i}": " ".join(rng.sample(pieces, rng.randint(2, 5))) for i in range(count)}
