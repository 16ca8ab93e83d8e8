"""The service's JSON codec, chosen once: orjson (the serve extra) when installed, else the stdlib."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

dumps: Callable[[Any], bytes]  # compact JSON bytes; numpy arrays and scalars become lists/numbers
loads: Callable[[bytes], Any]

try:
    import orjson

    dumps = functools.partial(orjson.dumps, option=orjson.OPT_SERIALIZE_NUMPY)
    loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is in the serve extra

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), default=lambda a: a.tolist()).encode()

    loads = json.loads
