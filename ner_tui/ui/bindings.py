"""The app's key bindings: every one has an id (for a user keymap) and a tooltip.

F-keys and ctrl combinations only, so they work while the text input has focus (TextArea takes
printable keys, f6/f7 and the usual editing chords).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from textual.binding import Binding, BindingType
from textual.dom import DOMNode

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)  # the palette's presets
THRESHOLD_STEP = 0.05  # f4 / shift+f4 move by this, clamped to 0.00..0.99 (never wrapping)
THRESHOLD_MAX = 0.99

APP_BINDINGS: list[BindingType] = [
    Binding(
        "ctrl+s,ctrl+enter,ctrl+j",
        "predict",
        "Predict",
        id="predict",
        priority=True,
        tooltip="Send the text to the model.",
    ),
    Binding(
        "escape",
        "cancel",
        "Cancel",
        id="cancel",
        tooltip="Cancel the prediction in flight.",
    ),
    Binding("f1", "help", "Help", id="help", tooltip="Every key and what the marks mean."),
    Binding(
        "f2",
        "cycle_aggregation",
        "Aggregation",
        id="aggregation",
        tooltip="Word grouping: none/simple/first/average/max.",
    ),
    Binding(
        "f3",
        "toggle_mode",
        "Strict",
        id="mode",
        tooltip="Lenient or strict BIO decoding.",
    ),
    Binding(
        "f4",
        "threshold(1)",
        "Threshold",
        id="threshold_up",
        show=False,
        tooltip="Raise the confidence threshold by 0.05 (up to 0.99).",
    ),
    Binding(
        "shift+f4",
        "threshold(-1)",
        "Threshold down",
        id="threshold_down",
        show=False,
        tooltip="Lower the confidence threshold by 0.05 (to 0.00).",
    ),
    Binding(
        "f5",
        "toggle_labels",
        "Labels",
        id="labels",
        show=False,
        tooltip="Show or hide the label after each entity.",
    ),
    Binding(
        "ctrl+l",
        "switch_backend",
        "Server/local",
        id="switch_backend",
        tooltip="Switch between server and local engine.",
    ),
    Binding(
        "ctrl+r",
        "history",
        "History",
        id="history",
        tooltip="Past inputs: re-run, remove or clear them.",
    ),
    Binding(
        "f8",
        "export",
        "Export",
        id="export",
        tooltip="Save as JSON, JSONL, CoNLL or a token table.",
    ),
    Binding(
        "f9",
        "toggle_live",
        "Live",
        id="live",
        show=False,
        tooltip="Predict as you type (after a short pause).",
    ),
    Binding(
        "ctrl+t",
        "copy_entities",
        "Copy entities",
        id="copy_entities",
        show=False,
        tooltip="Copy the entity list to the clipboard.",
    ),
    Binding(
        "ctrl+o",
        "open_file",
        "Open file",
        id="open_file",
        show=False,
        tooltip="Load a text file into the input.",
    ),
    Binding(
        "ctrl+g",
        "show_corpus",
        "Corpus",
        id="corpus",
        show=False,
        tooltip="Score a corpus: open one, or show the one open.",
    ),
    Binding(
        "f12",
        "compare",
        "Compare",
        id="compare",
        show=False,
        tooltip="Model A beside model B on this text (--compare-*).",
    ),
    Binding(
        "f10",
        "hide_types",
        "Types",
        id="types",
        show=False,
        tooltip="Choose the entity types shown (and exported).",
    ),
    Binding(
        "ctrl+down",
        "step_entity(1)",
        "Next entity",
        id="next_entity",
        show=False,
        tooltip="Select the next entity in the text.",
    ),
    Binding(
        "ctrl+up",
        "step_entity(-1)",
        "Previous entity",
        id="previous_entity",
        show=False,
        tooltip="Select the previous entity in the text.",
    ),
    Binding(
        "ctrl+f",
        "search",
        "Find",
        id="search",
        show=False,
        tooltip="Find a word or phrase in the text (again: next match).",
    ),
    Binding(
        "ctrl+n",
        "next_sample",
        "Sample",
        id="sample",
        show=False,
        tooltip="Replace the input with the next sample text.",
    ),
]


def app_binding(binding_id: str) -> Binding:
    """The app binding with ``binding_id``."""
    for binding in APP_BINDINGS:
        if isinstance(binding, Binding) and binding.id == binding_id:
            return binding
    raise KeyError(binding_id)


def keys_of(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys ``binding`` answers to under a user ``keymap`` (Textual's normalized form)."""
    keys = keymap.get(binding.id or "", binding.key)
    return [k.strip() for k in keys.split(",") if k.strip() and k.strip() != "ctrl+j"]


def class_bindings() -> Iterator[tuple[type, Binding]]:
    """Each ``Binding`` a ner-tui screen or widget class declares itself, with its class (every
    ner-tui class loaded, so one added later is included without a list here)."""
    todo: list[type] = [DOMNode]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__module__.startswith("ner_tui."):
            continue
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding):
                yield cls, binding


def known_binding_ids() -> list[str]:
    """Every binding id a ``[keymap]`` may name: the app's, then its screens' and widgets'."""
    ids = [b.id for b in APP_BINDINGS if isinstance(b, Binding) and b.id]
    seen = set(ids)
    for _, binding in class_bindings():
        if binding.id and binding.id not in seen:
            seen.add(binding.id)
            ids.append(binding.id)
    return ids
