"""Per-document span matching for ``ner-tui eval``: nervaluate's four schemes and our error kinds.

Spans here are plain ``(label, start, end)`` tuples with an exclusive end, in the order the
caller gave them: nervaluate's matching is greedy and order-dependent, so the order is part of
the result.

nervaluate 1.2.1 (the test oracle), restated on exclusive ends:

- A prediction and a true entity *overlap sufficiently* when they share at least one position
  and ``shared / len(true) * 100.0 >= 1.0`` (nervaluate's default ``min_overlap_percentage``;
  relative to the true span, so a true entity longer than 100 positions needs more than one
  shared position).
- Every scheme walks the predictions in order and, for each, the still-unmatched true
  entities in order. ``strict``: the first exact (label and bounds) match is correct, else the
  first sufficiently overlapping one makes it incorrect. ``exact``: the same on bounds only.
  ``partial``: the same walk as ``exact`` (an exact-bounds pair always overlaps fully), with
  incorrect called partial. ``ent_type`` (our ``type``): among same-label overlapping ones
  the closest bounds (first on ties) is correct, else the first other-label overlap is
  incorrect. An unmatched prediction is spurious, an unmatched true entity missed.
- Per type, nervaluate runs each scheme on the lists filtered to that type. There every
  label is equal, so ``strict`` and ``exact`` coincide and ``partial`` is their walk again.

Error kinds (the error browser's, not nervaluate's), each span used at most once, pairs taken
greedily by tier then by shared length then by document order: same bounds and type (correct),
same bounds and another type (``wrong_type``), overlapping with the same type
(``wrong_boundary``), overlapping with another type (``wrong_both``). Left-over predictions are
``spurious`` (they overlap no left-over gold entity), left-over gold entities ``missed``.
"""

from __future__ import annotations

from typing import Literal

Triple = tuple[str, int, int]
ErrorKind = Literal["missed", "spurious", "wrong_type", "wrong_boundary", "wrong_both"]
ERROR_KINDS: tuple[ErrorKind, ...] = (
    "missed",
    "spurious",
    "wrong_type",
    "wrong_boundary",
    "wrong_both",
)
_TIER_KIND: tuple[ErrorKind | None, ...] = (None, "wrong_type", "wrong_boundary", "wrong_both")

# nervaluate's default min_overlap_percentage.
MIN_OVERLAP_PERCENT = 1.0

# Slots of a count vector: correct, incorrect, partial, missed, spurious.
CORRECT, INCORRECT, PARTIAL, MISSED, SPURIOUS = range(5)


def candidates(gold: list[Triple], pred: list[Triple]) -> list[list[int]]:
    """For each prediction, the gold indices (in order) it overlaps sufficiently."""
    out: list[list[int]] = []
    for _, ps, pe in pred:
        row = []
        for j, (_, gs, ge) in enumerate(gold):
            if ps < ge and gs < pe:
                shared = (pe if pe < ge else ge) - (ps if ps > gs else gs)
                if shared / (ge - gs) * 100.0 >= MIN_OVERLAP_PERCENT:
                    row.append(j)
        out.append(row)
    return out


def first_match(
    gold: list[Triple], pred: list[Triple], cand: list[list[int]], typed: bool
) -> tuple[int, int, int, int]:
    """nervaluate's ``strict`` (``typed``) or ``exact`` walk: ``(correct, incorrect, missed,
    spurious)``; ``partial`` is the ``exact`` walk with incorrect read as partial."""
    matched: set[int] = set()
    correct = incorrect = spurious = 0
    for i, (pl, ps, pe) in enumerate(pred):
        fallback = -1
        for j in cand[i]:
            if j in matched:
                continue
            gl, gs, ge = gold[j]
            if gs == ps and ge == pe and (gl == pl or not typed):
                correct += 1
                matched.add(j)
                break
            if fallback < 0:
                fallback = j
        else:
            if fallback >= 0:
                incorrect += 1
                matched.add(fallback)
            else:
                spurious += 1
    return correct, incorrect, len(gold) - len(matched), spurious


def closest_match(
    gold: list[Triple], pred: list[Triple], cand: list[list[int]]
) -> tuple[int, int, int, int]:
    """nervaluate's ``ent_type`` walk: ``(correct, incorrect, missed, spurious)``."""
    matched: set[int] = set()
    correct = incorrect = spurious = 0
    for i, (pl, ps, pe) in enumerate(pred):
        best = other = -1
        best_distance = 0
        for j in cand[i]:
            if j in matched:
                continue
            gl, gs, ge = gold[j]
            if gl == pl:
                distance = abs(ps - gs) + abs(pe - ge)
                if best < 0 or distance < best_distance:
                    best, best_distance = j, distance
            elif other < 0:
                other = j
        if best >= 0:
            correct += 1
            matched.add(best)
        elif other >= 0:
            incorrect += 1
            matched.add(other)
        else:
            spurious += 1
    return correct, incorrect, len(gold) - len(matched), spurious


def add_schemes(
    gold: list[Triple],
    pred: list[Triple],
    overall: list[int],
    per_type: dict[str, list[int]],
) -> None:
    """Add one document's nervaluate counts to the accumulators.

    ``overall`` and each ``per_type[label]`` (created when missing) hold four count vectors
    back to back: strict, exact, partial, type (20 ints)."""
    cand = candidates(gold, pred)
    _add(
        overall,
        first_match(gold, pred, cand, True),
        first_match(gold, pred, cand, False),
        closest_match(gold, pred, cand),
    )
    labels = {label for label, _, _ in gold}
    labels.update(label for label, _, _ in pred)
    for label in labels:
        gi = [j for j, g in enumerate(gold) if g[0] == label]
        pi = [i for i, p in enumerate(pred) if p[0] == label]
        acc = per_type.get(label)
        if acc is None:
            acc = per_type[label] = [0] * 20
        if not pi or not gi:
            for base in (0, 5, 10, 15):
                acc[base + MISSED] += len(gi)
                acc[base + SPURIOUS] += len(pi)
            continue
        remap = {j: k for k, j in enumerate(gi)}
        g_t = [gold[j] for j in gi]
        p_t = [pred[i] for i in pi]
        c_t = [[remap[j] for j in cand[i] if j in remap] for i in pi]
        strict = first_match(g_t, p_t, c_t, True)
        _add(acc, strict, strict, closest_match(g_t, p_t, c_t))


def _add(
    acc: list[int],
    strict: tuple[int, int, int, int],
    exact: tuple[int, int, int, int],
    type_: tuple[int, int, int, int],
) -> None:
    for base, (correct, incorrect, missed, spurious) in ((0, strict), (5, exact), (15, type_)):
        acc[base + CORRECT] += correct
        acc[base + INCORRECT] += incorrect
        acc[base + MISSED] += missed
        acc[base + SPURIOUS] += spurious
    correct, incorrect, missed, spurious = exact
    acc[10 + CORRECT] += correct
    acc[10 + PARTIAL] += incorrect
    acc[10 + MISSED] += missed
    acc[10 + SPURIOUS] += spurious


def add_all_correct(
    labels: dict[str, int], overall: list[int], per_type: dict[str, list[int]]
) -> None:
    """Add a document whose predictions equal its gold entities (as multisets): every scheme
    matches each prediction with an identical true entity. ``labels``: entities per type."""
    total = sum(labels.values())
    for base in (0, 5, 10, 15):
        overall[base + CORRECT] += total
    for label, n in labels.items():
        acc = per_type.get(label)
        if acc is None:
            acc = per_type[label] = [0] * 20
        for base in (0, 5, 10, 15):
            acc[base + CORRECT] += n


def error_pairs(gold: list[Triple], pred: list[Triple]) -> list[tuple[ErrorKind | None, int, int]]:
    """The error browser's matching: ``(kind, gold index, pred index)`` with ``-1`` for the
    missing side and kind ``None`` for a correct pair, in no particular order."""
    pairs = []
    for i, (pl, ps, pe) in enumerate(pred):
        for j, (gl, gs, ge) in enumerate(gold):
            if ps < ge and gs < pe:
                same_bounds = ps == gs and pe == ge
                tier = (0 if gl == pl else 1) if same_bounds else (2 if gl == pl else 3)
                shared = (pe if pe < ge else ge) - (ps if ps > gs else gs)
                pairs.append((tier, -shared, j, i))
    pairs.sort()
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    out: list[tuple[ErrorKind | None, int, int]] = []
    for tier, _, j, i in pairs:
        if j in used_gold or i in used_pred:
            continue
        used_gold.add(j)
        used_pred.add(i)
        out.append((_TIER_KIND[tier], j, i))
    out.extend(("missed", j, -1) for j in range(len(gold)) if j not in used_gold)
    out.extend(("spurious", -1, i) for i in range(len(pred)) if i not in used_pred)
    return out
