"""Modal screens: help, error details, history, export, open file."""
