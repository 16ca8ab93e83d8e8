"""Container health check: GET /readyz on the local server; exit 0 when ready, 1 otherwise."""

import os
import sys
import urllib.request

port = os.environ.get("PE_PORT", "8000")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
