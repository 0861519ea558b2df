"""``python -m ner_tui.server --model DIR --port N``."""

from __future__ import annotations

import sys

from ner_tui.server.cli import main

sys.exit(main())
