"""Seeing what Parley does: metrics, logs and traces in the formats operators' tools read."""
