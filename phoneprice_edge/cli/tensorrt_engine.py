"""`python -m phoneprice_edge.export.tensorrt_engine finalize DIR`: the command line of the TensorRT
finalize step (torch-free, for the GPU image); the library half is export/tensorrt_engine.py."""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = "usage: python -m phoneprice_edge.export.tensorrt_engine finalize EXPORT_DIR"


def main(argv: list[str]) -> int:
    """The finalize command line: 0 on success, else one `error:` line and 1 (2 for usage)."""
    from phoneprice_edge.errors import PEError
    from phoneprice_edge.export.tensorrt_engine import ENGINE_FILE, finalize

    if len(argv) != 2 or argv[0] != "finalize":
        print(USAGE, file=sys.stderr)
        return 2
    try:
        finalize(Path(argv[1]))
    except PEError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"recorded {Path(argv[1]) / ENGINE_FILE} in its manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
