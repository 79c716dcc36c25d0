"""A run's events in other front ends' wire formats: the Vercel AI SDK's UI message stream
(`vercel_ai`) and AG-UI (`ag_ui`).

Both translate Parley's own wire events (docs/protocol.md, built by `runs/events.py`'s
`ReplyStream` from Pydantic AI's events), not Pydantic AI's events: a run is durable, its
event log is what every client reads (live, after a reconnect, from another process), so a
protocol stream is one more reader of that log. The frames are Pydantic AI's own models of
each protocol (`pydantic_ai.ui.vercel_ai.response_types`, `ag_ui.core`), encoded as Pydantic
AI's adapters encode them. Nothing here knows HTTP.
"""
