"""The non-UI core of ner-tui: protocol, client, alignment, decoding, engine.

Nothing under ``ner_tui.core`` imports Textual (a test enforces it).
"""
