"""A model's label names, parsed: tagging scheme, prefix and entity type of every label id.

Parsing rules (``split_label``):

- ``O`` is outside. So is any label whose *type* is ``O`` (``B-O``, ``I-O``): some converted
  datasets prefix every tag, and an entity of type "O" means nothing.
- ``B-X``, ``I-X``, ``E-X``, ``S-X``, ``L-X``, ``U-X``, ``M-X`` (BMES): prefix and type, split on
  the first ``-`` only, so types may contain hyphens (``B-ARGM-LOC`` has type ``ARGM-LOC``).
- A bare prefix letter (``B``, ``I``) has type ``_``, as in seqeval.
- Anything else (``PER``, ``LABEL_3``, ``b-per``) is a prefix-less label whose type is the whole
  name. In a set that also has prefixed labels it continues a same-type entity (the
  transformers pipeline treats such labels as ``I-``).

Scheme detection (``LabelSet.from_id2label``), from the prefixes present:

- ``L-``/``U-`` present: BILOU; else ``E-``/``S-``/``M-`` present: IOBES (BIOES, BMES).
- ``B-`` present: IOB2. IOB1 and IOB2 use the same label names (IOB1 only writes ``B-`` between
  two adjacent same-type entities), so the label set cannot tell them apart; IOB2 is by far the
  common case for models. Pass ``scheme="IOB1"`` when you know better.
- Only ``I-`` labels and no ``B-``: IOB1 (a model that never emits ``B-`` cannot be IOB2; read as
  IOB2, strict decoding would reject every entity).
- No prefixes at all: ``IO`` (prefix-less). A run of equal labels is one entity.
- Every label named ``LABEL_<n>`` (transformers' default when config.json has no names): IO,
  with ``LABEL_0`` taken as outside (``O`` is id 0 in CoNLL, OntoNotes and WNUT) and a note
  saying so. Pass ``outside=`` to choose another id, or ``outside=None`` for none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ner_tui.core.errors import ConfigError
from ner_tui.core.types import SCHEMES

# Canonical prefix codes shared with the decoders: L is E, U is S, M and prefix-less are I.
OUT, BEGIN, INSIDE, END, SINGLE = 0, 1, 2, 3, 4
_CODE = {
    "O": OUT,
    "B": BEGIN,
    "I": INSIDE,
    "M": INSIDE,
    "": INSIDE,
    "E": END,
    "L": END,
    "S": SINGLE,
    "U": SINGLE,
}
_ALLOWED = {
    "IOB2": frozenset("BIO") | {""},
    "IOB1": frozenset("BIO") | {""},
    "IOBES": frozenset("BIESLUMO") | {""},
    "BILOU": frozenset("BIESLUMO") | {""},
    "IO": frozenset("BIESLUMO") | {""},
}
_PREFIXED = re.compile(r"([BIESLUM])(?:-(.+))?", re.DOTALL)
_GENERIC = re.compile(r"LABEL_\d+")  # transformers' default name for label id n


def is_generic_label(name: str) -> bool:
    """Whether ``name`` is ``LABEL_<n>``, the name transformers gives a label when config.json
    names none (a model whose labels are all generic names no entity types)."""
    return _GENERIC.fullmatch(name) is not None


def id2label_names(mapping: Mapping[int, str] | Mapping[str, str]) -> tuple[str, ...]:
    """The label names of ``config.id2label`` in id order: ``{"1": "B-PER", "0": "O"} ->
    ("O", "B-PER")``. Keys are ints or the str keys of a raw config.json.

    Raises ``ValueError`` when a key is not an integer (``"1.5"``, ``"first"``), an id
    appears twice (``0`` and ``"0"``), a name is not a str, or the ids are not exactly
    ``0..n-1``. An empty mapping gives ``()``."""
    by_id: dict[int, str] = {}
    for key, name in mapping.items():
        try:
            label_id = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"id2label key {key!r} is not an integer") from None
        if isinstance(key, float) or (isinstance(key, str) and key.strip() != str(label_id)):
            raise ValueError(f"id2label key {key!r} is not an integer")
        if not isinstance(name, str):
            raise ValueError(
                f"id2label gives label {label_id} a name of type {type(name).__name__}, not str"
            )
        if label_id in by_id:
            raise ValueError(f"label id {label_id} appears twice in id2label")
        by_id[label_id] = name
    n = len(by_id)
    if sorted(by_id) != list(range(n)):
        missing = sorted(set(range(n)) - set(by_id))
        extra = sorted(set(by_id) - set(range(n)))
        raise ValueError(
            f"id2label ids must be exactly 0..{n - 1}"
            + (f"; missing {missing[:5]}" if missing else "")
            + (f"; unexpected {extra[:5]}" if extra else "")
        )
    return tuple(by_id[i] for i in range(n))


def split_label(label: str) -> tuple[str, str]:
    """``(prefix, type)`` of one label name: ``"B-ARGM-LOC" -> ("B", "ARGM-LOC")``,
    ``"O" -> ("O", "")``, ``"B-O" -> ("O", "")``, ``"B" -> ("B", "_")``,
    ``"PER" -> ("", "PER")``, ``"LABEL_3" -> ("", "LABEL_3")``."""
    if label == "O":
        return "O", ""
    match = _PREFIXED.fullmatch(label)
    if match is None:
        return "", label
    prefix, type_ = match.group(1), match.group(2)
    if type_ is None:
        return prefix, "_"
    if type_ == "O":
        return "O", ""
    return prefix, type_


def prefix_code(prefix: str) -> int:
    """The canonical decoder code of a prefix (see module constants)."""
    return _CODE[prefix]


@dataclass(frozen=True)
class LabelSet:
    """The labels of a model, id -> name, with the scheme they follow.

    ``prefixes[i]`` is one of ``B I E S L U M`` as written, ``O`` (outside) or ``""``
    (prefix-less); ``types[i]`` is the entity type (``""`` for outside labels).
    Build one with :meth:`from_id2label` or :meth:`from_names`."""

    names: tuple[str, ...]
    scheme: str
    prefixes: tuple[str, ...]
    types: tuple[str, ...]
    outside_id: int | None
    notes: tuple[str, ...] = ()
    # Arrays for the vectorised decoders, indexed by label id.
    codes: np.ndarray = field(init=False, repr=False, compare=False)
    type_ids: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown tagging scheme {self.scheme!r}; use one of {SCHEMES}")
        n = len(self.names)
        if not (len(self.prefixes) == len(self.types) == n):
            raise ValueError("names, prefixes and types must have the same length")
        codes = np.array([_CODE[p] for p in self.prefixes], dtype=np.int8)
        index = {t: i for i, t in enumerate(self.entity_types)}
        type_ids = np.array(
            [
                index.get(t, -1) if p != "O" else -1
                for p, t in zip(self.prefixes, self.types, strict=True)
            ],
            dtype=np.int32,
        )
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "type_ids", type_ids)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def entity_types(self) -> tuple[str, ...]:
        """Entity types in order of first appearance by id (``("PER", "ORG", ...)``)."""
        seen: dict[str, None] = {}
        for prefix, type_ in zip(self.prefixes, self.types, strict=True):
            if prefix != "O":
                seen.setdefault(type_, None)
        return tuple(seen)

    @classmethod
    def from_names(
        cls,
        names: tuple[str, ...] | list[str],
        *,
        scheme: str | None = None,
        outside: int | str | None = "auto",
    ) -> LabelSet:
        """Same as :meth:`from_id2label` for names already in id order."""
        return cls.from_id2label(dict(enumerate(names)), scheme=scheme, outside=outside)

    @classmethod
    def from_id2label(
        cls,
        mapping: Mapping[int, str] | Mapping[str, str],
        *,
        scheme: str | None = None,
        outside: int | str | None = "auto",
    ) -> LabelSet:
        """Parse ``config.id2label`` (int keys, or the str keys of a raw config.json).

        Raises ``ValueError`` when the ids are not exactly ``0..n-1``, a name is not a string,
        ``scheme`` is unknown, or the labels use prefixes ``scheme`` does not allow.
        ``outside="auto"`` finds the outside label by name (see the module docstring); an int
        makes that id the outside label; ``None`` means there is none."""
        names = list(id2label_names(mapping))
        notes: list[str] = []
        parsed = [split_label(name) for name in names]
        generic = bool(names) and all(is_generic_label(name) for name in names)

        if scheme is None:
            scheme = _detect_scheme({p for p, _ in parsed})
        elif scheme not in SCHEMES:
            raise ValueError(f"unknown tagging scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
        else:
            bad = [n for n, (p, _) in zip(names, parsed, strict=True) if p not in _ALLOWED[scheme]]
            if bad:
                raise ValueError(
                    f"labels {', '.join(bad[:5])} are not valid in the {scheme} scheme"
                )

        if scheme == "IO":
            # Prefix-less: a label is its own type, except the outside label(s).
            parsed = [
                ("O", "") if p == "O" else ("", name)
                for name, (p, _) in zip(names, parsed, strict=True)
            ]

        if outside == "auto":
            if generic:
                label0 = names.index("LABEL_0") if "LABEL_0" in names else None
                if label0 is not None:
                    parsed[label0] = ("O", "")
                    notes.append(
                        "The model's config has no label names (LABEL_0, LABEL_1, ...); "
                        "LABEL_0 is taken as the outside label."
                    )
        elif outside is not None:
            if not isinstance(outside, int) or not 0 <= outside < len(names):
                raise ValueError(f"outside label id {outside!r} is not one of 0..{len(names) - 1}")
            parsed[outside] = ("O", "")

        outside_ids = [i for i, (p, _) in enumerate(parsed) if p == "O"]
        if outside is None:
            parsed = [
                ("", name) if p == "O" else (p, t)
                for name, (p, t) in zip(names, parsed, strict=True)
            ]
            outside_ids = []
        exact_o = [i for i in outside_ids if names[i] == "O"]
        outside_id = exact_o[0] if exact_o else (outside_ids[0] if outside_ids else None)

        odd_o = [names[i] for i in outside_ids if names[i] != "O" and not generic]
        if odd_o and outside == "auto":
            notes.append(f"{', '.join(odd_o)} read as outside (an entity of type O means nothing).")
        if not outside_ids and names:
            notes.append("No outside label (O): every token belongs to some entity.")
        prefixes = {p for p, _ in parsed}
        if scheme != "IO" and "" in prefixes:
            loose = [n for n, (p, _) in zip(names, parsed, strict=True) if p == ""]
            notes.append(
                f"Labels without a prefix ({', '.join(loose[:5])}) continue a same-type entity, "
                "as I- labels do."
            )
        if scheme in ("IOBES", "BILOU") and prefixes & set("ES") and prefixes & set("LU"):
            notes.append(
                "Labels mix IOBES (E-/S-) and BILOU (L-/U-) prefixes; L- is read as E-, U- as S-."
            )
        return cls(
            names=tuple(names),
            scheme=scheme,
            prefixes=tuple(p for p, _ in parsed),
            types=tuple(t for _, t in parsed),
            outside_id=outside_id,
            notes=tuple(notes),
        )


def _detect_scheme(prefixes: set[str]) -> str:
    if prefixes & set("LU"):
        return "BILOU" if not prefixes & set("ESM") else "IOBES"
    if prefixes & set("ESM"):
        return "IOBES"
    if "B" in prefixes:
        return "IOB2"
    if "I" in prefixes:
        return "IOB1"
    return "IO"


def parse_label_map(text: str, option: str = "--map", form: str = "GOLD=MODEL") -> dict[str, str]:
    """``PERSON=PER,GPE=LOC`` as a mapping; a ConfigError naming the bad pair.

    ``eval --map`` (a gold type to the model's) and ``--compare-map`` (model B's type to
    model A's, ``form`` B=A) read it alike; ``option`` names the flag in the message."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(
                f"option {option}: `{pair}` is not {form}",
                hint=f"Write {option} PERSON=PER,GPE=LOC.",
            )
        mapping[old.strip()] = new.strip()
    return mapping
