"""pe-infer's CSV reader and the Python reader (read_table + schema validation) give the same
verdict on the same table: accepted with the same values, or refused (issue 18)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge.data.ingest import read_table
from phoneprice_edge.data.validate import prepare_unlabelled
from phoneprice_edge.errors import DataError
from phoneprice_edge.schema import FeatureSchema, FeatureSpec

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "cpp_runtime" / "tests" / "golden" / "mlp_relu_fp32.pem"  # features f0..f5
H = "f0,f1,f2,f3,f4,f5"
SCHEMA = FeatureSchema(features=tuple(FeatureSpec(f"f{i}") for i in range(6)), label="y",
                       classes=("low", "mid", "high"))

# name: (file bytes, fragment of pe-infer's one-line message, or None when accepted)
CASES: dict[str, tuple[bytes, str | None]] = {
    "plain": (b"extra,f5,f4,f3,f2,f1,f0\n9,1,2,3,4,5,6\n9,0.5,-1,2,0,3,-4\n", None),
    "bom": (b"\xef\xbb\xbf" + f"{H}\n1,2,3,4,5,6\n".encode(), None),
    "escaped_quotes": (f'name,{H}\n"say ""hi"", ok",1,2,3,4,5,6\n"two\nlines", "0.5" ,-1,2,0,3,4\n'.encode(), None),
    "crlf_blank_lines": (f"\n{H}\r\n1,2,3,4,5,6\r\n\r\n-1,2,3,4,5,6\r\n".encode(), None),
    "number_forms": (f"{H}\n.5,5.,-0,1e-40,1E+3,  7  \n".encode(), None),
    "hex": (f"{H}\n0x10,1,2,3,4,5\n".encode(), "'0x10' is not a finite decimal number"),
    "inf": (f"{H}\n1,2,3,inf,5,6\n".encode(), "'inf' is not"),
    "nan": (f"{H}\n1,2,3,4,nan,6\n".encode(), "'nan' is not"),
    "empty_cell": (f"{H}\n1,,3,4,5,6\n".encode(), "column 'f1'"),
    "word": (f"{H}\n1,2,x,4,5,6\n".encode(), "column 'f2': 'x' is not"),
    "duplicated_header": (f"{H},f1\n1,2,3,4,5,6,7\n".encode(), "duplicated column name(s) in the header: f1"),
    "short_row": (f"{H}\n1,2,3,4,5,6\n1,2,3\n".encode(), "data row 2 has 3 fields, expected 6"),
    "long_row": (f"{H}\n1,2,3,4,5,6\n1,2,3,4,5,6,7\n".encode(), "data row 2 has 7 fields, expected 6"),
    "missing_column": (b"f0,f1,f2\n1,2,3\n", "missing column(s): f3, f4, f5"),
    "header_only": (f"{H}\n".encode(), "no data rows"),
    "empty_file": (b"", "the file is empty"),
    "unclosed_quote": (f'{H}\n"1,2,3,4,5,6\n'.encode(), "a quoted field is not closed"),
}



def python_verdict(path: Path) -> np.ndarray | None:
    """Features float32 in schema order when the Python side accepts the table, else None."""
    try:
        return prepare_unlabelled(read_table(path), SCHEMA, source=str(path)).X
    except DataError:
        return None



def cpp_logits(infer: Path, model: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(infer), "--logits", str(model), str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_table_same_verdict(infer: Path, runtime_logits, tmp_path: Path, name: str) -> None:
    content, fragment = CASES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    x = python_verdict(path)
    res = cpp_logits(infer, MODEL, path)
    if fragment is None:
        assert x is not None, f"Python refused {name}"
        assert res.returncode == 0, res.stderr
        # same values: the C++ logits equal the runtime's on the Python-parsed rows, bit for bit
        got = np.array([[float(v) for v in line.split(",")] for line in res.stdout.splitlines()[1:]],
                       dtype=np.float32)
        np.testing.assert_array_equal(got, runtime_logits(MODEL, x))
    else:
        assert x is None, f"Python accepted {name}"
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], res.stderr


def test_missing_file_is_one_line(infer: Path, tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    with pytest.raises(DataError, match="not found"):
        read_table(path)
    res = cpp_logits(infer, MODEL, path)
    assert res.returncode == 1
    assert res.stderr.strip() == f"pe-infer: cannot open {path}: No such file or directory"
