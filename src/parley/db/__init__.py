"""Storage: table definitions, the engine, and migrations."""
