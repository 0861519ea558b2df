"""The headless commands: ``predict`` (and next ``eval``), above the core, below the app."""
