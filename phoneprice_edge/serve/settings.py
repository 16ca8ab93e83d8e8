"""ServeSettings: every knob of the inference service (CLI flags and environment), validated once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from phoneprice_edge.errors import UsageError

OutOfRange = Literal["error", "warn"]
API_KEY_ENV = "PE_API_KEY"


@dataclass(frozen=True)
class ServeSettings:
    """Limits and switches of one server; the artifact itself is loaded separately."""

    out_of_range: OutOfRange = "error"
    max_batch: int = 4096
    max_body_bytes: int = 4 * 1024 * 1024
    request_timeout_s: float = 10.0
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    warmup_runs: int = 20
    reload_interval_s: float = 0.0          # poll the registry pointer every S seconds (0 = off)
    allow_unauthenticated_reload: bool = False  # POST /v1/admin/reload without an API key

    def __post_init__(self) -> None:
        if self.out_of_range not in ("error", "warn"):
            raise UsageError(f"--out-of-range must be error or warn, got {self.out_of_range!r}")
        if self.max_batch < 1:
            raise UsageError(f"--max-batch must be >= 1, got {self.max_batch}")
        if self.max_body_bytes < 1024:
            raise UsageError(f"--max-body-bytes must be >= 1024, got {self.max_body_bytes}")
        if not self.request_timeout_s > 0:
            raise UsageError(f"--timeout must be > 0 seconds, got {self.request_timeout_s}")
        if self.reload_interval_s < 0:
            raise UsageError(f"--reload-interval must be >= 0, got {self.reload_interval_s}")
        if self.api_key is not None and not self.api_key.strip():
            raise UsageError(f"{API_KEY_ENV} is set but empty")


def api_key_from_env() -> str | None:
    """The API key from PE_API_KEY, or None when unset (then the API is open)."""
    return os.environ.get(API_KEY_ENV)
