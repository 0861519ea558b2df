"""ner-tui: look at what a named-entity-recognition model sees."""

__version__ = "0.1.0"
