"""The command palette's ner-tui commands; only those that apply right now are offered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ner_tui.core.types import AGGREGATIONS, DecodeMode
from ner_tui.ui.bindings import THRESHOLDS
from ner_tui.ui.samples import SAMPLES

if TYPE_CHECKING:
    from ner_tui.ui.app import NerTuiApp


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    name: str
    help: str
    callback: Callable[[], object]


class NerCommands(Provider):
    """Asks the app for its current commands (export only with a prediction, and so on)."""

    def _commands(self) -> list[PaletteCommand]:
        app = cast("NerTuiApp", self.app)
        return app.palette_commands()

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.name, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.name), command.callback, help=command.help
                )


def app_commands(app: NerTuiApp) -> list[PaletteCommand]:
    """The commands that apply to the app's state now (export only with a prediction...)."""
    c = PaletteCommand
    commands = [c("Predict", "Send the input to the model", app.action_predict)]
    if app.predicting:
        commands.append(c("Cancel prediction", "Stop the request in flight", app.action_cancel))
    for agg in AGGREGATIONS:
        if agg != app.decode_options.aggregation:
            commands.append(
                c(
                    f"Aggregation: {agg}",
                    "Re-decode with this word grouping",
                    partial(app.set_aggregation, agg),
                )
            )
    other: DecodeMode = "lenient" if app.decode_options.mode == "strict" else "strict"
    commands.append(
        c(
            f"Decoder: {other}",
            "Switch the BIO decoder (no new request)",
            partial(app.set_mode, other),
        )
    )
    for t in THRESHOLDS:
        if abs(t - app.decode_options.threshold) > 1e-9:
            commands.append(
                c(
                    f"Threshold: {t:.1f}",
                    "Drop entities scoring below this",
                    partial(app.set_threshold, t),
                )
            )
    labels = "Hide labels" if app.view_options.show_labels else "Show labels"
    commands.append(c(labels, "The label chip after each entity", app.action_toggle_labels))
    for entity_type in app.palette.types:
        hidden = entity_type in app.view_options.hidden_types
        commands.append(
            c(
                f"{'Show' if hidden else 'Hide'} type: {entity_type}",
                "Toggle this entity type in the view (f10 chooses several)",
                partial(app.toggle_type, entity_type),
            )
        )
    live = "Live mode: off" if app.view_options.live else "Live mode: on"
    commands.append(c(live, "Predict as you type", app.action_toggle_live))
    for name in SAMPLES:
        commands.append(
            c(
                f"Sample: {name}",
                "Load and predict a sample text",
                partial(app.load_sample, name),
            )
        )
    commands.append(
        c(
            "Compare models",
            "This text through model A and model B, side by side",
            app.action_compare,
        )
    )
    commands.append(c("History", "Past inputs", app.action_history))
    if len(app.history):
        commands.append(c("Clear history", "Forget past inputs", app.clear_history))
    commands.append(c("Load a text file", "Put a file's text in the input", app.action_open_file))
    commands.append(
        c("Open corpus…", "Score a CoNLL/JSONL/text corpus with the model", app.action_open_corpus)
    )
    if app.corpus_screen is not None:
        commands.append(c("Show corpus", "Scores, documents and errors", app.action_show_corpus))
    if app.corpus_docs and not app.corpus_running:
        from ner_tui.ui.screens.compare_corpus import show_corpus_compare

        commands.append(
            c(
                "Compare models on the corpus",
                "A's and B's scores per type, B - A with its interval, documents by disagreement",
                partial(show_corpus_compare, app),
            )
        )
    if app.prediction is not None:
        for fmt, label in (
            ("json", "JSON"),
            ("jsonl", "JSONL"),
            ("conll", "CoNLL"),
            ("html", "HTML page"),
        ):
            commands.append(
                c(
                    f"Export {label}",
                    "Write the prediction to a file",
                    partial(app.action_export, fmt),
                )
            )
        commands.append(c("Copy entities", "To the clipboard", app.action_copy_entities))
        commands.append(
            c("Copy result as JSON", "Text, options, entities and tokens", app.action_copy_json)
        )
    if app.prediction is not None and app.prediction.entities:
        commands.append(c("Next entity", "ctrl+down", partial(app.action_step_entity, 1)))
        commands.append(c("Previous entity", "ctrl+up", partial(app.action_step_entity, -1)))
    commands.append(c("Find in the text", "ctrl+f", app.action_search))
    kind = app.connection.kind if app.connection else None
    commands.append(
        c(
            "Use the local engine" if kind != "local" else "Use the server",
            "Switch backend without restarting",
            app.action_switch_backend,
        )
    )
    return commands
