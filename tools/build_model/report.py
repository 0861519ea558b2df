"""eval_report.json / eval_report.md and the model card (README.md) of the built model directory."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from teacher import ENTITY_TYPES

EVAL_DESCRIPTIONS = {
    "hand_checked_news": (
        "Held-out ABC news stories (gensim `lee.cor`, never trained on). Gold = spans written by "
        "the build's author (an AI assistant) by reading each story and correcting the teachers' "
        "output, following the label guide in `tools/build_model/make_gold.py`. The closest thing "
        "to human-labelled news here; small and single-annotator, and since the gold started from "
        "en_core_web_md's output, its boundary conventions favour that teacher."
    ),
    "hand_checked_news_lowercased": (
        "The same stories and gold, every letter lower-cased: what the student finds when "
        "capitalisation gives nothing away (a user typing in lower case). No teacher row: the "
        "teachers' spans were computed on the original text."
    ),
    "synthetic_heldout": (
        "Templated sentences with exact gold labels, from templates and curated names that the "
        "training data never used (the held-out half). Measures generalisation to unseen sentence "
        "shapes and names, but the text is artificial."
    ),
    "silver_md_test_docs": (
        "Agreement with en_core_web_md on the held-out real documents (news, newsgroup, "
        "Wikipedia). Not accuracy: the reference is itself a model; the sm row shows how much the "
        "two teachers agree with each other."
    ),
    "silver_sm_test_docs": (
        "Agreement with en_core_web_sm on the same held-out documents (same caveat)."
    ),
}


def data_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(f"{r['source']}/{r['split']}" for r in records)
    chars: Counter[str] = Counter()
    for r in records:
        chars[f"{r['source']}/{r['split']}"] += len(r["text"])
    return {"chunks": dict(sorted(counts.items())), "characters": dict(sorted(chars.items()))}


def _table(results: dict[str, Any]) -> list[str]:
    cols = [*ENTITY_TYPES, "micro avg"]
    lines = ["| system | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, res in results.items():
        cells = [f"{res[c]['f1']:.3f}" if c in res else "-" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    support = next(iter(results.values()))
    lines.append(
        "| (gold entities) | "
        + " | ".join(str(support[c]["support"]) if c in support else "0" for c in cols)
        + " |"
    )
    return lines


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Evaluation report: ner-tui-minilm-en",
        "",
        f"Rebuild: `{result['command']}`. This report came from `{result['invocation']}` "
        f"({result['build_seconds']} s).",
        "Entity-level F1 (seqeval, IOB2, exact span and type) per type. Each system's spans are "
        "projected onto the same subword sequence before scoring. The student is decoded exactly "
        "as ner-tui's default does: "
        "argmax per subword, lenient IOB2 grouping.",
        "",
    ]
    for name, ev in result["evaluations"].items():
        lines += [f"## {name} ({ev['texts']} texts)", "", EVAL_DESCRIPTIONS.get(name, ""), ""]
        lines += [*_table(ev["results"]), ""]
    lines += [
        "## Training",
        "",
        "```",
        json.dumps(result["training"]["history"], indent=1),
        "```",
        "",
    ]
    lines += [
        "## Batch invariance of the shipped int8 file",
        "",
        "Max |softmax(text alone) - softmax(same text padded in a batch with longer texts)|:",
        "",
    ]
    for text, diff in result["batch_invariance_max_abs_diff"].items():
        lines.append(f"- {diff:.2e}: {text}")
    lines += ["", "## Demo sentences (shipped ONNX int8 model)", ""]
    for demo in result["demo"]:
        ents = ", ".join(f"{e['text']!r} {e['type']}" for e in demo["entities"]) or "(none)"
        lines.append(f"- {demo['text']}\n  - {ents}")
    lines += ["", "## Data", "", "```", json.dumps(result["data"], indent=1), "```", ""]
    return "\n".join(lines)


def verdict(result: dict[str, Any]) -> str:
    """One honest sentence per evaluation set: student (shipped) vs the best teacher, weak types."""
    lines = []
    for name, ev in result["evaluations"].items():
        if name.startswith("silver"):
            continue  # agreement with one teacher, not accuracy
        res = ev["results"]
        student = res.get("student (ONNX int8, shipped)")
        teachers = {k: v for k, v in res.items() if k.startswith("teacher")}
        if student is None or not teachers:
            continue
        best_name, best = max(teachers.items(), key=lambda kv: kv[1]["micro avg"]["f1"])
        s_f1, t_f1 = student["micro avg"]["f1"], best["micro avg"]["f1"]
        weak = [t for t in ENTITY_TYPES if t in student and student[t]["f1"] < 0.75]
        cmp = "above" if s_f1 > t_f1 else "below"
        lines.append(
            f"- {name}: student micro F1 {s_f1:.3f}, {cmp} the best teacher "
            f"({best_name.removeprefix('teacher ')}, {t_f1:.3f}); "
            + (f"types under 0.75: {', '.join(weak)}." if weak else "every type at or above 0.75.")
        )
    return "\n".join(lines)


def write(out: Path, result: dict[str, Any]) -> None:
    (out / "eval_report.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "eval_report.md").write_text(markdown(result))
    card = (Path(__file__).parent / "model_card.md").read_text()
    summary = []
    for name in ("hand_checked_news", "hand_checked_news_lowercased", "synthetic_heldout"):
        if name in result["evaluations"]:
            summary += [
                f"### {name}",
                "",
                EVAL_DESCRIPTIONS[name],
                "",
                *_table(result["evaluations"][name]["results"]),
            ]
            summary.append("")
    demo_lines = []
    for demo in result["demo"][:4]:
        ents = ", ".join(f"{e['text']!r} {e['type']}" for e in demo["entities"]) or "(none)"
        demo_lines.append(f"- {demo['text']} -> {ents}")
    size_mb = sum(result["files"].values()) / 1e6
    card = (
        card.replace("{{EVAL}}", "\n".join(summary))
        .replace("{{VERDICT}}", verdict(result))
        .replace("{{DEMO}}", "\n".join(demo_lines))
        .replace("{{COMMAND}}", result["command"])
        .replace("{{SIZE_MB}}", f"{size_mb:.1f}")
    )
    (out / "README.md").write_text(card)
