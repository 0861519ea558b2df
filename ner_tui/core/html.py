"""Predictions as one self-contained HTML page, like displaCy's entity view.

One file that opens anywhere: inline CSS, no scripts, no fonts or images fetched, no network. The
text keeps its line breaks; each entity is a ``<mark>`` in its type's colour from the app's own
table (``core.colours``), with the label drawn after it by CSS (``data-label``), so selecting and
copying the page gives the text without labels. The page follows the reader's light or dark
preference (``prefers-color-scheme``); the entity colours are the same in both, as in the app.

Text is data: every character of the text, labels, model names and headings goes through
``html.escape``; control, bidi-control and zero-width characters are shown as the app shows them
(``core.visible``: ``␛``, ``‹RLO›``), each in a ``<span class="ctl">`` whose ``title`` names the
code point; each document's text is ``dir="auto"`` and each entity ``unicode-bidi: isolate``, so
right-to-left text reads right and cannot reorder its neighbours. A mark's ``data-start`` and
``data-end`` are the entity's exact character offsets in the original text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ner_tui.core import colours
from ner_tui.core.colours import ColourSlots, entity_types
from ner_tui.core.types import Entity, Prediction
from ner_tui.core.visible import SPECIAL_RE, visible

_CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1b1b; --muted: #5c5c5c;
  --rule: #d8d8d8; --ctl: #8a5a00; --bad: #c1121f; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171c; --fg: #e8e8e8; --muted: #a8a8a8; --rule: #3a3d44; --ctl: #ffcf70;
    --bad: #ff6b6b; }
}
body { background: var(--bg); color: var(--fg); margin: 2rem auto; max-width: 60rem;
  padding: 0 1rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 .75rem; }
section.doc { border-top: 1px solid var(--rule); padding: 1rem 0; }
section.doc h2 { font-size: 1rem; margin: 0 0 .25rem; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 2.4; font-size: 1.05rem; }
mark.ent { background: var(--hue); color: #111111; padding: .15em .35em; margin: 0 .1em;
  border-radius: .35em; unicode-bidi: isolate; box-decoration-break: clone;
  -webkit-box-decoration-break: clone; }
mark.ent::after { content: attr(data-label); background: var(--chip); color: #ffffff;
  font-weight: bold; font-size: .7em; padding: .1em .35em; margin-left: .4em;
  border-radius: .3em; vertical-align: middle; unicode-bidi: isolate; }
.ctl { color: var(--ctl); border: 1px dotted currentColor; border-radius: .2em;
  font-size: .85em; padding: 0 .1em; }
mark.ent .ctl { color: #6b3f00; }
.legend { list-style: none; padding: 0; margin: 0 0 .5rem; display: flex; flex-wrap: wrap;
  gap: .4rem; }
.legend li { background: var(--chip); color: #ffffff; font-weight: bold; font-size: .8rem;
  padding: .1em .5em; border-radius: .3em; }
.empty { color: var(--muted); font-style: italic; }
.row { display: grid; grid-template-columns: 4rem 1fr; gap: .5rem; align-items: baseline; }
.row .who { color: var(--muted); font-size: .8rem; text-transform: uppercase; }
mark.ent.wrong, mark.ent.missed { outline: 2px dashed var(--bad); outline-offset: 1px; }
mark.ent.missed { opacity: .75; }
"""


# What the app shows as a symbol, and lone surrogates (which UTF-8 cannot encode).
_SPECIAL = re.compile(f"(?:{SPECIAL_RE.pattern})|[\ud800-\udfff]")


# What follows a symbol inside its span, so the page keeps the text's layout.
_BREAKS = {"\t": "\t", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}


def _symbol(char: str) -> str:
    """The symbol shown for one special character (no line break: the caller adds it)."""
    if "\ud800" <= char <= "\udfff":
        return "�"
    if char == "\t":
        return "→"
    return visible(char).rstrip("\n")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def visible_html(text: str) -> str:
    """``text`` escaped for HTML, with special characters shown as the app shows them.

    Newlines stay newlines (the text is ``pre-wrap``); a tab is ``→`` and the tab, a line or
    paragraph separator ``⏎`` and a newline; lone surrogates (not encodable) become ``�``. Each
    special character is one ``<span class="ctl" title="U+XXXX">``, so the page names every
    character of the original text."""
    out: list[str] = []
    pos = 0
    for match in _SPECIAL.finditer(text):
        out.append(html.escape(text[pos : match.start()], quote=False))
        char = match.group()
        shown = html.escape(_symbol(char), quote=False) + _BREAKS.get(char, "")
        out.append(f'<span class="ctl" title="U+{ord(char):04X}">{shown}</span>')
        pos = match.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


class HtmlPage:
    """Builds one page, a section per document, written as each document arrives.

    Colours are assigned once per page (one :class:`ColourSlots`), seeded from each document's
    label set, so a type has the same colour in every section, and the app's colour for it."""

    def __init__(self, title: str = "ner-tui") -> None:
        self.title = title
        self.slots = ColourSlots()

    def head(self) -> str:
        title = _e(self.title)
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="generator" content="ner-tui">\n'
            f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{title}</h1></header>\n<main>\n"
        )

    def foot(self, summary: str = "") -> str:
        """The end of the page, after an optional closing paragraph (e.g. eval's scores)."""
        closing = f'<p class="meta summary">{visible_html(summary)}</p>\n' if summary else ""
        return f"</main>\n{closing}</body>\n</html>\n"

    def _legend(self, types: Iterable[str]) -> str:
        items = "".join(
            f'<li style="{self._vars(kind)}">{_e(visible_html_plain(kind))}</li>' for kind in types
        )
        return f'<ul class="legend">{items}</ul>\n'

    def corpus_section(
        self,
        number: int,
        text: str,
        gold: Sequence[Mark],
        predicted: Sequence[Mark],
        heading: str = "",
    ) -> str:
        """One corpus document: the gold spans over the text, then the model's, each span
        that is not in the other side outlined (``missed``, ``wrong``) with the error kind."""
        types = list(dict.fromkeys(m.label for m in [*gold, *predicted]))
        for kind in types:
            self.slots.slot(kind)
        correct = {(m.start, m.end, m.label) for m in gold} & {
            (m.start, m.end, m.label) for m in predicted
        }
        meta = f"{len(gold)} gold · {len(predicted)} predicted · {len(correct)} exactly right" + (
            " · empty document" if not text else ""
        )
        rows = []
        for name, marks in (("gold", gold), ("model", predicted)):
            body = highlighted(text, marks, self._vars)
            rows.append(
                f'<div class="row {name}"><span class="who">{name}</span>'
                f'<div class="text" dir="auto">{body}</div></div>\n'
            )
        return (
            f'<section class="doc" id="doc-{number}">\n'
            f"<h2>{visible_html(heading or f'Document {number}')}</h2>\n"
            f'<p class="meta">{visible_html(meta)}</p>\n'
            f"{self._legend(types)}{''.join(rows)}</section>\n"
        )

    def _vars(self, entity_type: str) -> str:
        slot = self.slots.slot(entity_type)
        return f"--hue: {colours.hue(slot)}; --chip: {colours.chip(slot)}"

    def section(
        self, prediction: Prediction, number: int, extra: Mapping[str, Any] | None = None
    ) -> str:
        """One document: heading, model and options, legend, highlighted text."""
        scored = prediction.scored
        for kind in entity_types(scored.id2label):
            self.slots.slot(kind)
        heading = " · ".join(
            [f"Document {number}", *(f"{key} {value}" for key, value in (extra or {}).items())]
        )
        count = len(prediction.entities)
        meta = (
            f"{scored.model} · aggregation {prediction.options.aggregation} · "
            f"{prediction.options.mode} · {count} entit{'y' if count == 1 else 'ies'}"
        )
        types = [*entity_types(scored.id2label)]
        types += [e.label for e in prediction.entities if e.label not in types]
        body = highlighted(prediction.text, entity_marks(prediction.entities), self._vars)
        if not prediction.text:
            meta += " · empty document"
        return (
            f'<section class="doc" id="doc-{number}">\n'
            f"<h2>{visible_html(heading)}</h2>\n"
            f'<p class="meta">{visible_html(meta)}</p>\n'
            f"{self._legend(types)}"
            f'<div class="text" dir="auto">{body}</div>\n'
            "</section>\n"
        )


def visible_html_plain(text: str) -> str:
    """``text`` with special characters replaced by their symbols (for attributes and chips)."""
    return _SPECIAL.sub(lambda m: _symbol(m.group()), text)


class Mark(NamedTuple):
    """One span to mark: character offsets, type, score (None for gold) and its status class
    (``""``; ``"wrong"`` for a prediction not in the gold, ``"missed"`` for gold the model
    did not find), with the error kind as a tooltip."""

    start: int
    end: int
    label: str
    score: float | None = None
    status: str = ""
    note: str = ""


def highlighted(text: str, marks: Iterable[Mark], style_for: Callable[[str], str]) -> str:
    """The text as HTML with each span a ``<mark>`` (in order; overlapping ones skipped)."""
    out: list[str] = []
    pos = 0
    for mark in sorted(marks, key=lambda m: (m.start, m.end)):
        if mark.start < pos or mark.end <= mark.start:
            continue
        out.append(visible_html(text[pos : mark.start]))
        label = visible_html_plain(mark.label)
        tip = " ".join(
            filter(None, [label, "" if mark.score is None else f"{mark.score:.3f}", mark.note])
        )
        classes = f"ent {mark.status}".strip()
        out.append(
            f'<mark class="{classes}" style="{_e(style_for(mark.label))}" '
            f'data-label="{_e(label)}" data-start="{mark.start}" data-end="{mark.end}" '
            f'title="{_e(tip)}">{visible_html(text[mark.start : mark.end])}</mark>'
        )
        pos = mark.end
    out.append(visible_html(text[pos:]))
    return "".join(out)


def entity_marks(entities: Iterable[Entity]) -> list[Mark]:
    return [Mark(e.start, e.end, e.label, e.score) for e in entities]


__all__ = ["HtmlPage", "Mark", "entity_marks", "highlighted", "visible_html"]
