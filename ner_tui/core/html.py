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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ner_tui.core import colours
from ner_tui.core.colours import ColourSlots, entity_types
from ner_tui.core.types import Entity, Prediction
from ner_tui.core.visible import SPECIAL_RE, visible

_CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1b1b; --muted: #5c5c5c;
  --rule: #d8d8d8; --ctl: #8a5a00; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171c; --fg: #e8e8e8; --muted: #a8a8a8; --rule: #3a3d44; --ctl: #ffcf70; }
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

    def foot(self) -> str:
        return "</main>\n</body>\n</html>\n"

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
        legend = "".join(
            f'<li style="{self._vars(kind)}">{_e(visible_html_plain(kind))}</li>' for kind in types
        )
        body = highlighted(prediction.text, prediction.entities, self._vars)
        if not prediction.text:
            meta += " · empty document"
        return (
            f'<section class="doc" id="doc-{number}">\n'
            f"<h2>{visible_html(heading)}</h2>\n"
            f'<p class="meta">{visible_html(meta)}</p>\n'
            f'<ul class="legend">{legend}</ul>\n'
            f'<div class="text" dir="auto">{body}</div>\n'
            "</section>\n"
        )


def visible_html_plain(text: str) -> str:
    """``text`` with special characters replaced by their symbols (for attributes and chips)."""
    return _SPECIAL.sub(lambda m: _symbol(m.group()), text)


def highlighted(text: str, entities: Iterable[Entity], style_for: Callable[[str], str]) -> str:
    """The text as HTML with each entity a ``<mark>`` (entities in order, overlaps skipped)."""
    out: list[str] = []
    pos = 0
    for entity in sorted(entities, key=lambda e: (e.start, e.end)):
        if entity.start < pos or entity.end <= entity.start:
            continue
        out.append(visible_html(text[pos : entity.start]))
        label = visible_html_plain(entity.label)
        out.append(
            f'<mark class="ent" style="{_e(style_for(entity.label))}" '
            f'data-label="{_e(label)}" data-start="{entity.start}" data-end="{entity.end}" '
            f'title="{_e(label)} {entity.score:.3f}">'
            f"{visible_html(text[entity.start : entity.end])}</mark>"
        )
        pos = entity.end
    out.append(visible_html(text[pos:]))
    return "".join(out)


__all__ = ["HtmlPage", "highlighted", "visible_html"]
