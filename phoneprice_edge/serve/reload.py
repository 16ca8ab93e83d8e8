"""Hot reload: the served-model reference (leases + atomic swap) and the registry-polling reloader."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import PEError
from phoneprice_edge.serve.model import ServedModel, load_served_model

log = logging.getLogger("phoneprice_edge.serve.reload")


class ModelHolder:
    """The current ServedModel behind one reference. Requests hold a lease while they use a model;
    swap() replaces the reference atomically and a retired model is closed once its last lease
    ends (in-flight requests finish on the model they started with)."""

    def __init__(self, model: ServedModel, source: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._current = model
        self.source = source
        self._leases: dict[int, int] = {id(model): 0}
        self._retired: dict[int, ServedModel] = {}

    @property
    def current(self) -> ServedModel:
        return self._current

    @contextlib.contextmanager
    def lease(self) -> Iterator[ServedModel]:
        """The current model, kept open until the block ends."""
        model = self.acquire()
        try:
            yield model
        finally:
            self.release(model)

    def acquire(self) -> ServedModel:
        """The current model, kept open until release(model) (lease() without the generator)."""
        with self._lock:
            model = self._current
            self._leases[id(model)] += 1
        return model

    def release(self, model: ServedModel) -> None:
        """End a lease taken with acquire(); a retired model is closed after its last one."""
        with self._lock:
            key = id(model)
            self._leases[key] -= 1
            done = self._leases[key] == 0 and key in self._retired
            if done:
                del self._leases[key], self._retired[key]
        if done:
            _close(model)

    def swap(self, model: ServedModel, source: Path | None = None) -> ServedModel:
        """Serve model from now on; the old one is closed after its in-flight requests. Returns it."""
        with self._lock:
            old, self._current, self.source = self._current, model, source
            self._leases.setdefault(id(model), 0)
            idle = self._leases[id(old)] == 0
            if idle:
                del self._leases[id(old)]
            else:
                self._retired[id(old)] = old
        if idle:
            _close(old)
        return old

    def close(self) -> None:
        """Close the current model (server shutdown)."""
        _close(self._current)

    def retired_open(self) -> int:
        """Retired models still waiting for their last request."""
        with self._lock:
            return len(self._retired)


def _close(model: ServedModel) -> None:
    try:
        model.close()
    except Exception as exc:  # a backend that fails to close must not break serving
        log.warning("closing model %s failed: %r", model.model_id, exc)


@dataclass
class ReloadResult:
    """What one reload attempt did: 'swapped', 'unchanged' or 'failed'."""

    status: str
    model_id: str
    previous: str | None = None
    source: str | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


Locate = Callable[[], Path]
Loader = Callable[[Path], ServedModel]
Report = Callable[[ReloadResult], None]


class Reloader:
    """Loads the artifact `locate()` names off the request path (verify + warm up), then swaps it
    into the holder. A failed load keeps the old model serving; the same failing artifact is not
    retried by the poll until it changes (a forced reload always retries)."""

    def __init__(self, holder: ModelHolder, locate: Locate, *, loader: Loader | None = None,
                 warmup_runs: int = 20, report: Report | None = None) -> None:
        self.holder = holder
        self.locate = locate
        self.loader = loader or (lambda p: load_served_model(p))
        self.warmup_runs = warmup_runs
        self.report = report or (lambda r: None)
        self._lock = threading.Lock()
        self._failed: tuple[Path, float] | None = None
        self._locate_error: str | None = None
        self.last: ReloadResult | None = None

    def reload(self, force: bool = False) -> ReloadResult:
        """Load the located artifact when it differs from the served one (or when force)."""
        with self._lock:
            t0 = time.perf_counter()
            serving = self.holder.current
            try:
                path = self.locate()
            except PEError as exc:
                res = ReloadResult("failed", serving.model_id, error=str(exc))
                if not force and str(exc) == self._locate_error:
                    return res  # the same broken pointer as last time: reported once
                self._locate_error = str(exc)
                return self._done(res, t0)
            self._locate_error = None
            if not force and path == self.holder.source:
                return ReloadResult("unchanged", serving.model_id, source=str(path))
            if not force and self._failed == (path, _stamp(path)):
                return ReloadResult("failed", serving.model_id, source=str(path),
                                    error="this artifact failed to load before; "
                                    "reload with force=true to retry")
            return self._done(self._load_and_swap(path, serving), t0)

    def _load_and_swap(self, path: Path, serving: ServedModel) -> ReloadResult:
        try:
            model = self.loader(path)
        except (PEError, OSError, RuntimeError, ValueError) as exc:
            self._failed = (path, _stamp(path))
            return ReloadResult("failed", serving.model_id, source=str(path), error=str(exc))
        try:
            if model.classes != serving.classes or \
                    model.schema.feature_names != serving.schema.feature_names:
                raise PEError("the new artifact's features or classes differ from the served "
                              "model's; restart the server to change them")
            model.warm_up(self.warmup_runs)
        except Exception as exc:
            _close(model)
            self._failed = (path, _stamp(path))
            return ReloadResult("failed", serving.model_id, source=str(path), error=str(exc))
        self._failed = None
        old = self.holder.swap(model, path)
        return ReloadResult("swapped", model.model_id, previous=old.model_id, source=str(path))

    def _done(self, res: ReloadResult, t0: float) -> ReloadResult:
        res.seconds = round(time.perf_counter() - t0, 4)
        self.last = res
        if res.status == "failed":
            log.error("model reload failed (still serving %s): %s", res.model_id, res.error)
        else:
            log.info("model reloaded: %s -> %s from %s in %.3f s", res.previous, res.model_id,
                     res.source, res.seconds)
        self.report(res)
        return res


def _stamp(path: Path) -> float:
    """Modification time of the artifact's manifest (a re-export in place counts as a change)."""
    try:
        return (path / "manifest.json").stat().st_mtime
    except OSError:
        return 0.0


def registry_locator(registry_dir: str | Path, profile: str) -> Locate:
    """locate() for a model registry: the champion's export folder for profile."""
    from phoneprice_edge.monitor.registry import current_artifact

    return lambda: current_artifact(registry_dir, profile)
