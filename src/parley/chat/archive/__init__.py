"""Conversations in and out of Parley: the versioned Parley JSON format (format.py), exporting
(export.py, markdown.py), reading a file as a stream (reader.py), other apps' exports turned
into Parley's (chatgpt.py, claude.py) and writing imported conversations (importer.py)."""
