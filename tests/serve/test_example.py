"""examples/binary_client.py runs against a real server and reports every row it sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from live import live_server

from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.settings import ServeSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "binary_client.py"


def test_binary_client_example(served: ServedModel) -> None:
    with live_server(create_app(served, ServeSettings(max_batch=1000))) as url:
        r = subprocess.run([sys.executable, str(EXAMPLE), "--url", url, "--rows", "2500"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("2500 rows in 3 requests of <= 1000 rows"), r.stdout
    counts = [int(part.rsplit(": ", 1)[1]) for part in r.stdout.strip().split("classes: ")[1]
              .split(", ")]
    assert sum(counts) == 2500 and len(counts) == len(served.classes)
