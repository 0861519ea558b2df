"""The core is a library: importing it must not drag in Textual (harlequin's layer test).

import-linter's contracts in pyproject.toml check the imports written in the code; this test
checks what importing the modules really loads, lazy imports and plugins included."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import ner_tui.commands
import ner_tui.core
import ner_tui.server

CORE_PACKAGES = (ner_tui.core, ner_tui.server, ner_tui.commands)


def _core_modules() -> list[str]:
    names = []
    for package in CORE_PACKAGES:
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            names.append(info.name)
    return names


def test_core_modules_exist() -> None:
    # Guards the test below against passing vacuously on an empty package list.
    assert "ner_tui.core.types" in _core_modules()


def test_core_does_not_import_textual() -> None:
    modules = _core_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    if name.endswith('__main__'):\n"
        "        continue\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"core modules imported Textual: {result.stdout}"
