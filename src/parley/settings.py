"""Parley's one settings object: environment (`PARLEY_*`), then CLI flags on top."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    # The user's data directory, never the installed package: upgrades and read-only
    # installs must not touch the conversations.
    path = user_data_path("parley", appauthor=False) / "parley.db"
    return f"sqlite+aiosqlite:///{path}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    model: str | None = Field(
        default=None,
        description=(
            "Pydantic AI model string (openai:gpt-4o, anthropic:…, ollama:…) or "
            "local:/path/to/model.gguf; unset, the bundled local model answers (parley[local])."
        ),
    )
    models: list[str] = Field(
        default=[],
        description=(
            "Models people may choose from, per conversation (JSON list of model strings as "
            "for `model`); the first is the default. `--model` given more than once sets it."
        ),
    )
    agent: str | None = Field(
        default=None,
        description=(
            "Your own agent: package.module:attribute, path/to/bot.py:attribute, or an agent "
            "spec file (.yaml, .json)."
        ),
    )
    instructions: str | None = Field(
        default=None, description="Instructions (system prompt) added to every run."
    )
    generate_titles: bool = Field(
        default=True,
        description="After a conversation's first reply, ask its model for a short title.",
    )
    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy async URL; default is a SQLite file in the user data directory.",
    )
    database_pool_size: int = Field(
        default=10, gt=0, description="Connections kept open per process (PostgreSQL)."
    )
    database_max_overflow: int = Field(
        default=20, ge=0, description="Extra connections a busy process may open (PostgreSQL)."
    )
    database_pool_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a free connection before failing."
    )
    auth: Literal["local", "accounts"] = Field(
        default="local",
        description="local: one user, no login, loopback only; accounts: users log in.",
    )
    allowed_hosts: list[str] = Field(
        default=[],
        description=(
            "Host names the server answers to besides localhost (JSON list); "
            "requests naming any other Host are refused."
        ),
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses of reverse proxies whose user header is trusted (JSON list).",
    )
    trusted_user_header: str | None = Field(
        default=None,
        description="Header carrying the user name set by a trusted proxy (accounts mode).",
    )
    session_days: int = Field(default=30, gt=0, description="Days a login session lasts.")
    login_attempts: int = Field(
        default=5, gt=0, description="Failed logins per account per 15 minutes before 429."
    )
    login_attempts_per_address: int = Field(
        default=20, gt=0, description="Failed logins per client address per 15 minutes before 429."
    )
    max_cost_per_reply: Decimal | None = Field(
        default=None,
        gt=0,
        description="USD one reply may cost (Pydantic AI's cost_limit): the reply stops there.",
    )
    daily_budget: Decimal | None = Field(
        default=None,
        gt=0,
        description="USD a user's replies may cost per UTC day (429 until midnight after it).",
    )
    max_runs_per_user: int = Field(
        default=4, gt=0, description="Replies one user may have generating at once (429 beyond)."
    )
    password_time_cost: int = Field(
        default=3, ge=1, description="argon2id passes per password hash (argon2-cffi default)."
    )
    password_memory_kib: int = Field(
        default=65536, ge=32, description="argon2id memory per password hash, in KiB."
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, description="Port to listen on.")
    max_prompt_chars: int = Field(
        default=100_000, gt=0, description="Longest prompt accepted (longer is 413)."
    )
    max_body_bytes: int = Field(
        default=1_000_000, gt=0, description="Largest request body accepted (larger is 413)."
    )
    max_file_bytes: int = Field(
        default=20_000_000, gt=0, description="Largest file a user may attach (larger is 413)."
    )
    max_files_per_message: int = Field(
        default=10, gt=0, description="Files one prompt may carry (more is 413)."
    )
    max_import_bytes: int = Field(
        default=512_000_000,
        gt=0,
        description="Largest file POST /api/import reads (larger is 413); read as a stream.",
    )
    public_shares: bool = Field(
        default=False,
        description=(
            "Accounts mode: share links open without logging in. Off: only logged-in users "
            "see a shared conversation."
        ),
    )
    max_storage_per_user: int = Field(
        default=500_000_000,
        gt=0,
        description="Bytes of files one user may have stored (an upload beyond is 413).",
    )
    run_timeout: float = Field(
        default=600.0, gt=0, description="Seconds a reply may take before it is stopped."
    )
    local_context: int = Field(
        default=2048, ge=256, description="Context window (tokens) of a local GGUF model."
    )
    local_max_tokens: int = Field(
        default=512, ge=1, description="Longest reply (tokens) of a local GGUF model."
    )
    checkpoint_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between saves of a reply being generated (what a crash can lose).",
    )
    run_stale_after: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds without a heartbeat after which other processes mark a reply interrupted."
        ),
    )
    context_tokens: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Context window (tokens) of models that declare none: the newest whole turns "
            "that fit are sent."
        ),
    )
    max_output_tokens: int | None = Field(
        default=None, gt=0, description="Token limit per reply (Pydantic AI UsageLimits)."
    )
    max_requests_per_reply: int = Field(
        default=20, gt=0, description="Model requests per reply, tool calls included (UsageLimits)."
    )
    mcp_config: Path | None = Field(
        default=None,
        description=(
            "MCP servers whose tools every run may use: a JSON file in the `mcpServers` format "
            "(stdio `command` or `url`), with Parley's `disabled` and `approval` keys."
        ),
    )
    # -- Operating it (docs: README "Operate it") ------------------------------------------
    metrics: bool = Field(
        default=False,
        description=(
            "Serve Prometheus metrics at /metrics. In accounts mode only to "
            "PARLEY_METRICS_ALLOWED addresses or with PARLEY_METRICS_TOKEN as a bearer token."
        ),
    )
    metrics_allowed: list[str] = Field(
        default=["127.0.0.1", "::1"],
        description="Addresses (or CIDR networks) that may read /metrics in accounts mode.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="A bearer token that may read /metrics in accounts mode (a scraper's).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "json: one JSON object per log line, with request id, run id, user id and trace id."
        ),
    )
    trace_content: bool = Field(
        default=False,
        description=(
            "Put prompts, replies and tool arguments in OpenTelemetry spans (off: only their "
            "sizes, models, token counts and timings)."
        ),
    )

    def sqlite_path(self) -> Path | None:
        """The SQLite file behind `database_url`, if it is one."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            rest = self.database_url[len(prefix) :]
            return Path(rest) if rest and rest != ":memory:" else None
        return None
