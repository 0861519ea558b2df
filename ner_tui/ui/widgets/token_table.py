"""The token/label table: a virtual table that renders only the rows on screen.

At its natural width the columns are ``# token word label conf runner-ups``. When the pane is
narrower than that (80x24 and smaller terminals) it switches to a compact layout that keeps what
matters on screen: ``# token label conf`` first, the token cut shorter, then the word and the
runner-ups abbreviated (``I-PER .02``). Either way a row wider than the pane scrolls sideways
(Left/Right, or the horizontal scrollbar).

Textual's DataTable builds a row object per token and measures every cell up front (about 1.7 s
for 20,000 tokens here), so this table reads rows straight from the :class:`Prediction` instead:
setting a 20,000-token prediction costs one pass over the token strings for column widths.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.color import Color
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style

from ner_tui.core.labels import split_label
from ner_tui.core.types import Prediction, TokenPrediction
from ner_tui.core.visible import visible_text
from ner_tui.ui.palette import EntityPalette, on_dark_theme
from ner_tui.ui.widgets.strip import content_strip

LOW_CONFIDENCE = 0.5
_MAX_TOKEN = 18
_MAX_WORD = 20
_COMPACT_TOKEN = 12
_WIDTH_SAMPLE = 500


@dataclass(frozen=True, slots=True)
class _Columns:
    index: int
    token: int
    word: int
    label: int
    conf: int = 5
    alts: int = 0  # the runner-ups' widest cell length

    @property
    def full_width(self) -> int:
        """The natural layout's row width (mark, index, token, word, label, conf, runner-ups)."""
        return (
            2
            + self.index
            + 2
            + self.token
            + 2
            + self.word
            + 2
            + self.label
            + 2
            + self.conf
            + 2
            + self.alts
        )


class TokenTable(ScrollView, can_focus=True):
    """One row per token the model saw, special tokens included (dimmed)."""

    DEFAULT_CSS = """
    TokenTable {
        background: $surface; overflow-x: auto; scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    TokenTable > .token-table--header { text-style: bold; color: $text-muted; }
    TokenTable > .token-table--cursor { background: $accent 40%; }
    TokenTable > .token-table--member { background: $accent 15%; }
    """
    COMPONENT_CLASSES = {  # noqa: RUF012
        "token-table--header",
        "token-table--cursor",
        "token-table--member",
    }
    BINDINGS = [  # noqa: RUF012
        Binding("up", "cursor(-1)", "Up", id="tokens.up", show=False, tooltip="The token above."),
        Binding(
            "down", "cursor(1)", "Down", id="tokens.down", show=False, tooltip="The token below."
        ),
        Binding(
            "pageup",
            "page(-1)",
            "Page up",
            id="tokens.page_up",
            show=False,
            tooltip="One screen of tokens up.",
        ),
        Binding(
            "pagedown",
            "page(1)",
            "Page down",
            id="tokens.page_down",
            show=False,
            tooltip="One screen of tokens down.",
        ),
        Binding(
            "home", "jump(0)", "First", id="tokens.first", show=False, tooltip="The first token."
        ),
        Binding("end", "jump(-1)", "Last", id="tokens.last", show=False, tooltip="The last token."),
        Binding(
            "enter",
            "choose",
            "Label distribution",
            id="tokens.distribution",
            tooltip="Every label's probability for this token, as a bar chart.",
        ),
        Binding(
            "left",
            "scroll_left",
            "Scroll left",
            show=False,
            id="tokens.scroll_left",
            tooltip="Scroll a row wider than the pane back.",
        ),
        Binding(
            "right",
            "scroll_right",
            "Scroll right",
            show=False,
            id="tokens.scroll_right",
            tooltip="Scroll a row wider than the pane to its runner-ups and word.",
        ),
    ]

    cursor: reactive[int] = reactive(-1, init=False)

    @dataclass
    class TokenHighlighted(Message):
        """The cursor moved to a token (``index`` into the prediction's tokens)."""

        table: TokenTable
        index: int

        @property
        def control(self) -> TokenTable:
            return self.table

    @dataclass
    class TokenChosen(Message):
        """Enter on a token: show its whole label distribution."""

        table: TokenTable
        index: int

        @property
        def control(self) -> TokenTable:
            return self.table

    def action_choose(self) -> None:
        if self.row_count:
            self.post_message(self.TokenChosen(self, max(self.cursor, 0)))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prediction: Prediction | None = None
        self._palette = EntityPalette()
        self._word_cache: dict[int, str] = {}
        self._cols = _Columns(1, 5, 4, 5)
        self._members: tuple[int, int] | None = None  # token range of a selected entity
        self._compact = False
        self._cache: LRUCache[tuple[int, int, int, bool, bool], Strip] = LRUCache(256)
        self._theme_colours: dict[str, Color] = {}
        self._dark_cache: bool | None = None

    @property
    def row_count(self) -> int:
        return len(self._prediction.tokens) if self._prediction else 0

    @property
    def prediction(self) -> Prediction | None:
        return self._prediction

    def set_prediction(self, prediction: Prediction | None, palette: EntityPalette) -> None:
        self._prediction = prediction
        self._palette = palette
        self._members = None
        self._cache.clear()
        self._word_cache = {}
        if prediction is None:
            self.virtual_size = Size(0, 0)
            self.set_reactive(TokenTable.cursor, -1)
            self.refresh()
            return
        # Column widths from a sample of rows (a longer cell is cut with "…"): one pass over
        # 20,000 tokens here would cost more than drawing the screen.
        sample = prediction.tokens[:_WIDTH_SAMPLE]
        token_w = max([5, *(min(_MAX_TOKEN, cell_len(t.text)) for t in sample)])
        label_w = max([5, *(len(label) for label in prediction.scored.id2label)])
        words = (self._word_of(t.index) for t in sample if t.word is not None)
        word_w = max([4, *(min(_MAX_WORD, cell_len(w)) for w in words)])
        top_k = max((len(t.alternatives) for t in sample), default=0)
        alts_w = top_k * (label_w + 7) - 2 if top_k else 10
        self._cols = _Columns(len(str(len(prediction.tokens))), token_w, word_w, label_w, 5, alts_w)
        self._fit_layout()
        self.set_reactive(TokenTable.cursor, -1)
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def _fit_layout(self) -> None:
        """Pick the natural or compact layout for the pane's width, and the scrollable size."""
        width = self.scrollable_content_region.width
        self._compact = bool(width) and width < self._cols.full_width
        self._cache.clear()
        c = self._cols
        if self._compact:
            token = min(c.token, _COMPACT_TOKEN)
            alts = self._compact_alts()
            row_width = 2 + c.index + 2 + token + 2 + c.label + 2 + c.conf + 2 + alts + 2 + c.word
        else:
            row_width = c.full_width
        self.virtual_size = Size(row_width, self.row_count + 1 if self._prediction else 0)

    def _compact_alts(self) -> int:
        """The compact runner-up column's width ("I-PER .02" per runner-up)."""
        c = self._cols
        count = (c.alts + 2) // (c.label + 7) if c.alts else 0
        return max(10, count * (c.label + 6) - 2)

    def on_resize(self) -> None:
        if self._prediction is not None:
            self._fit_layout()
            self.refresh()

    def mark_members(self, token_start: int, token_end: int) -> None:
        """Shade the rows of a selected entity and bring the first into view."""
        self._members = (token_start, token_end)
        self._cache.clear()
        self._scroll_to_row(token_start)
        self.refresh()

    def select(self, index: int) -> None:
        """Move the cursor to a token (posts :class:`TokenHighlighted`)."""
        if self.row_count:
            self.cursor = max(0, min(index, self.row_count - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self._cache.clear()
        self._members = None
        if new >= 0:
            self._scroll_to_row(new)
            self.post_message(self.TokenHighlighted(self, new))
        self.refresh()

    def _scroll_to_row(self, row: int) -> None:
        height = self.scrollable_content_region.height - 1  # below the header
        if height <= 0:
            return
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False)
        elif row >= self.scroll_y + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self.row_count:
            self.select(max(self.cursor, 0) + delta if self.cursor >= 0 else 0)

    def action_page(self, direction: int) -> None:
        page = max(1, self.scrollable_content_region.height - 2)
        self.action_cursor(direction * page)

    def action_jump(self, where: int) -> None:
        if self.row_count:
            self.select(where if where >= 0 else self.row_count - 1)

    async def _on_click(self, event: events.Click) -> None:
        if event.y >= 1 and self._prediction is not None:
            row = event.y - 1 + round(self.scroll_y)
            if row < self.row_count:
                self.focus()
                self.select(row)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._theme_colours = {}
        self._dark_cache = None

    def _theme_dark(self) -> bool:
        dark = self._dark_cache
        if dark is None:
            dark = self._dark_cache = on_dark_theme(self)
        return dark

    def _theme(self, name: str, default: str) -> Color:
        colour = self._theme_colours.get(name)
        if colour is None:
            value = self.app.theme_variables.get(name, default)
            try:
                colour = Color.parse(value)
            except Exception:
                colour = Color.parse(default)
            self._theme_colours[name] = colour
        return colour

    def _word_of(self, index: int) -> str:
        """The text of the word token ``index`` belongs to (a word's tokens are contiguous);
        computed once per word, for the rows actually drawn."""
        assert self._prediction is not None
        cached = self._word_cache.get(index)
        if cached is not None:
            return cached
        tokens = self._prediction.tokens
        word = tokens[index].word
        first = last = index
        while first > 0 and tokens[first - 1].word == word:
            first -= 1
        while last + 1 < len(tokens) and tokens[last + 1].word == word:
            last += 1
        members = tokens[first : last + 1]
        start = min(t.start for t in members)
        end = max(t.end for t in members)
        text = visible_text(self._prediction.text[start:end])
        for i in range(first, last + 1):
            self._word_cache[i] = text
        return text

    def _header(self) -> Content:
        c = self._cols
        if self._compact:
            token = min(c.token, _COMPACT_TOKEN)
            return Content(
                "  "
                + "#".rjust(c.index)
                + "  "
                + "token".ljust(token)
                + "  "
                + "label".ljust(c.label)
                + "  "
                + "conf".rjust(c.conf)
                + "  "
                + "runner-ups".ljust(self._compact_alts())
                + "  word"
            )
        parts = [
            "  ",
            "#".rjust(c.index),
            "  ",
            "token".ljust(c.token),
            "  ",
            "word".ljust(c.word),
            "  ",
            "label".ljust(c.label),
            "  ",
            "conf".rjust(c.conf),
            "  runner-ups",
        ]
        return Content("".join(parts))

    def _row(self, tok: TokenPrediction) -> Content:
        c = self._cols
        pieces: list[tuple[str, Style | None]] = []
        dim = Style(dim=True)
        low = tok.score < LOW_CONFIDENCE and not tok.special
        mark: tuple[str, Style | None]
        if tok.rejected:
            mark = ("✗ ", Style(foreground=self._theme("error", "red"), bold=True))
        elif low:
            mark = ("! ", Style(foreground=self._theme("warning", "yellow"), bold=True))
        else:
            mark = ("  ", None)
        pieces.append(mark)
        pieces.append((str(tok.index).rjust(c.index) + "  ", dim))
        compact = self._compact
        token = _fit(visible_text(tok.text), min(c.token, _COMPACT_TOKEN) if compact else c.token)
        pieces.append((token + "  ", dim if tok.special else None))
        word = "" if tok.word is None else _fit(self._word_of(tok.index), c.word)
        word_piece = (word.ljust(c.word) + "  ", Style(italic=True) if word else None)
        if not compact:
            pieces.append(word_piece)
        _, kind = split_label(tok.label)
        label_style: Style | None = None
        if tok.special:
            label_style = dim
        elif kind:
            label_style = self._palette.colour(kind).label_for(self._theme_dark())
        if tok.rejected:
            label_style = Style.combine([label_style or Style(), Style(strike=True)])
        pieces.append((tok.label.ljust(c.label) + "  ", label_style))
        conf_style = (
            Style(foreground=self._theme("warning", "yellow"), bold=True)
            if low
            else (dim if tok.special else None)
        )
        pieces.append((f"{tok.score:.3f}"[: c.conf].rjust(c.conf), conf_style))
        if compact:
            # "I-PER .02": the runner-ups in fewer cells, then the word.
            alts = "  ".join(f"{label} {_short_score(score)}" for label, score in tok.alternatives)
            pieces.append(("  " + alts.ljust(self._compact_alts()) + "  ", dim))
            pieces.append(word_piece)
        else:
            alts = "  ".join(f"{label} {score:.2f}" for label, score in tok.alternatives)
            pieces.append(("  " + alts, dim))
        return Content.assemble(*[(text, style) if style else text for text, style in pieces])

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.visual_style
        if self._prediction is None:
            return Strip.blank(width, base.rich_style)
        scroll_x = round(self.scroll_x)
        if y == 0:
            header_style = self.get_visual_style("token-table--header")
            header = content_strip(
                self._header(), Style.combine([base, header_style]), scroll_x + width
            )
            return header.crop(scroll_x, scroll_x + width)
        row = y - 1 + round(self.scroll_y)
        if row >= self.row_count:
            return Strip.blank(width, base.rich_style)
        is_cursor = row == self.cursor
        is_member = self._members is not None and self._members[0] <= row < self._members[1]
        key = (row, width, scroll_x, is_cursor, is_member)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        style = base
        if is_cursor:
            style = Style.combine([base, self.get_visual_style("token-table--cursor")])
        elif is_member:
            style = Style.combine([base, self.get_visual_style("token-table--member")])
        line = self._row(self._prediction.tokens[row])
        strip = content_strip(line, style, scroll_x + width).crop(scroll_x, scroll_x + width)
        self._cache[key] = strip
        return strip


def _short_score(score: float) -> str:
    """``.02`` for 0.02, ``1.0`` for scores that round to one: three cells."""
    text = f"{score:.2f}"
    return "1.0" if text == "1.00" else text[1:]


def _fit(text: str, width: int) -> str:
    if cell_len(text) <= width:
        return text + " " * (width - cell_len(text))
    out = ""
    for ch in text:
        if cell_len(out + ch) > width - 1:
            break
        out += ch
    return out + "…" + " " * (width - 1 - cell_len(out))
