"""Importers: turn other tools' output (llama-bench ...) into costperf run records or published sets.

Each importer parses strictly (a malformed or truncated file raises with file, line and field, and
nothing is written) and keeps every source field it does not understand in `Result.raw` or the
published row's `settings`, so a newer tool version loses nothing.
"""
