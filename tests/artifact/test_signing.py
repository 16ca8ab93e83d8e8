"""Ed25519 signing round trip: sign, verify, tamper (model bytes, schema, an added file, a
removed file), refuse; the loaders refuse unsigned artifacts when PE_VERIFY_KEY is set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from phoneprice_edge.artifact import MANIFEST, SIGNATURE, load_artifact, with_digest
from phoneprice_edge.artifact.signing import ENV_KEY, check_signature, generate_key, sign
from phoneprice_edge.backends.registry import load_backend
from phoneprice_edge.cli import main
from phoneprice_edge.errors import ArtifactError, UsageError


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    key, pub = generate_key(d / "release.key")
    _, other = generate_key(d / "other.key")
    return key, pub, other


def _pe(*args: str) -> int:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0)


def _tamper(folder: Path, how: str) -> None:
    if how == "model":
        data = bytearray((folder / "model.onnx").read_bytes())
        data[len(data) // 2] ^= 1
        (folder / "model.onnx").write_bytes(bytes(data))
    elif how == "schema":  # edited and re-digested: only the signature can tell
        raw = json.loads((folder / MANIFEST).read_text())
        raw["schema"]["classes"].reverse()
        raw["classes"].reverse()
        (folder / MANIFEST).write_text(json.dumps(with_digest(raw)))
    elif how == "added":
        (folder / "payload.py").write_text("print('hi')")
    elif how == "removed":
        (folder / "golden.bin").unlink()


def test_key_files(keys: tuple[Path, Path, Path]) -> None:
    key, pub, _ = keys
    assert key.stat().st_mode & 0o777 == 0o600 and b"PUBLIC KEY" in pub.read_bytes()
    with pytest.raises(UsageError, match="exists"):
        generate_key(key)


@pytest.mark.parametrize("how", ["model", "schema", "added", "removed"])
def test_sign_verify_tamper_refuse(onnx_copy: Path, keys: tuple[Path, Path, Path],
                                   capsys: pytest.CaptureFixture[str], how: str) -> None:
    key, pub, other = keys
    assert _pe("sign", str(onnx_copy), "--key", str(key)) == 0
    assert (onnx_copy / SIGNATURE).is_file()
    assert _pe("verify", str(onnx_copy), "--key", str(pub)) == 0
    assert _pe("verify", str(onnx_copy), "--key", str(other)) == 1
    assert "signed by key" in capsys.readouterr().out
    _tamper(onnx_copy, how)
    assert _pe("verify", str(onnx_copy), "--key", str(pub)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and ("signature does not match" in out or "sha256" in out
                              or "not listed" in out or "missing" in out)
    with pytest.raises(ArtifactError):
        load_artifact(onnx_copy, verify_key=pub)


def test_env_key_makes_every_loader_refuse_unsigned(onnx_copy: Path, keys: tuple[Path, Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    key, pub, _ = keys
    monkeypatch.setenv(ENV_KEY, str(pub))
    with pytest.raises(ArtifactError, match="not signed"):
        load_backend(onnx_copy)
    from phoneprice_edge.serve.model import load_served_model

    with pytest.raises(ArtifactError, match="not signed"):
        load_served_model(onnx_copy)
    sign(onnx_copy, load_artifact(onnx_copy, ignore_env_key=True), key)
    with load_backend(onnx_copy) as b:
        assert b.manifest is not None and b.manifest.target == "onnx"
    monkeypatch.delenv(ENV_KEY)
    with load_backend(onnx_copy, verify_key=pub):
        pass


def test_predict_verify_key(onnx_copy: Path, keys: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from phoneprice_edge import golden
    from phoneprice_edge.predict import predict_file
    from phoneprice_edge.schema import PHONE_SCHEMA

    key, pub, other = keys
    x = golden.read(onnx_copy / "golden.bin").inputs[:4]
    csv = tmp_path / "x.csv"
    csv.write_text("\n".join([",".join(PHONE_SCHEMA.feature_names)]
                             + [",".join(f"{v:g}" for v in r) for r in x]) + "\n")
    with pytest.raises(ArtifactError, match="not signed"):
        predict_file(onnx_copy, csv, tmp_path / "o.csv", verify_key=pub)
    sign(onnx_copy, load_artifact(onnx_copy), key)
    assert predict_file(onnx_copy, csv, tmp_path / "o.csv", verify_key=pub).rows == 4
    assert _pe("predict", "--artifact", str(onnx_copy), "--data", str(csv), "--out",
               str(tmp_path / "p.csv"), "--verify-key", str(other)) == 1


def test_update_manifest_drops_a_stale_signature(onnx_copy: Path,
                                                 keys: tuple[Path, Path, Path]) -> None:
    from phoneprice_edge.export.manifest import update_manifest

    key, pub, _ = keys
    m = sign(onnx_copy, load_artifact(onnx_copy), key)
    assert m.is_file()
    update_manifest(onnx_copy, parity={"passed": True})
    assert not (onnx_copy / SIGNATURE).exists()
    with pytest.raises(ArtifactError, match="not signed"):
        check_signature(onnx_copy, load_artifact(onnx_copy), pub)


def test_export_sign_option(synth_run: Path, keys: tuple[Path, Path, Path], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    key, pub, _ = keys
    run = Path(shutil.copytree(synth_run, tmp_path / "run", ignore=shutil.ignore_patterns("export")))
    assert _pe("export", "--run", str(run), "--profile", "onnx-fp32", "--sign", str(key)) == 0
    assert "signed" in capsys.readouterr().out
    load_artifact(run / "export" / "onnx-fp32", verify_key=pub)
    assert _pe("export", "--run", str(run), "--profile", "onnx-fp32", "--sign", str(pub)) == 2
