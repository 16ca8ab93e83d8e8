"""The artifact folder contract: digest over the canonical manifest, format versions, file
inventory (relative names inside, nothing unlisted), hashes; every backend refuses a change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from artifact_factory import manifest_body

from phoneprice_edge.artifact import (
    MANIFEST,
    canonical_bytes,
    load_artifact,
    manifest_digest,
    parse,
    read_manifest,
)
from phoneprice_edge.backends.registry import load_backend
from phoneprice_edge.errors import ArtifactError


def _edit(folder: Path, change) -> None:  # noqa: ANN001 - change(dict) edits in place
    path = folder / MANIFEST
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw, indent=2))


def test_digest_is_over_canonical_json_and_ignores_layout() -> None:
    body = manifest_body()
    assert body["digest"] == manifest_digest(body)
    reordered = dict(reversed(list(body.items())))
    assert manifest_digest(reordered) == body["digest"]
    assert b" " not in canonical_bytes({"a": [1, 2], "b": "x"})
    assert parse(json.loads(json.dumps(body, indent=4))).digest == body["digest"]


@pytest.mark.parametrize("edit", [
    lambda m: m["schema"]["classes"].reverse(),
    lambda m: m["schema"]["features"].reverse(),
    lambda m: m["schema"]["features"][0].update(max=1e9),
    lambda m: m.update(precision="int8"),
    lambda m: m["files"].update({"model.onnx": "1" * 64}),
])
def test_any_edit_of_the_manifest_is_detected(edit) -> None:  # noqa: ANN001
    body = manifest_body()
    edit(body)
    with pytest.raises(ArtifactError, match="digest mismatch"):
        parse(body)


def test_consistent_edit_with_features_and_classes_still_caught() -> None:
    body = manifest_body()
    body["schema"]["classes"].reverse()
    body["classes"].reverse()
    with pytest.raises(ArtifactError, match="digest mismatch"):
        parse(body)


def test_format_versions() -> None:
    old = manifest_body()
    old["manifest_format"] = "phoneprice_edge.manifest/1"
    with pytest.raises(ArtifactError, match="format 1 carries no digest.*re-export"):
        parse(old)
    new = manifest_body()
    new["manifest_format"] = "phoneprice_edge.manifest/9"
    with pytest.raises(ArtifactError, match="newer than this phoneprice_edge reads"):
        parse(new)
    with pytest.raises(ArtifactError, match="not a phoneprice_edge manifest"):
        parse({"target": "onnx"})


def test_manifest_is_frozen() -> None:
    m = parse(manifest_body())
    with pytest.raises(AttributeError):
        m.target = "cpp"  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.files["x"] = "0" * 64  # type: ignore[index]
    with pytest.raises(TypeError):
        m.data["schema"]["label"] = "x"  # type: ignore[index]
    m.schema["label"] = "x"  # a copy
    assert m.schema["label"] == "price_range"


def test_exported_manifest_records_golden_rows(onnx_copy: Path) -> None:
    m = load_artifact(onnx_copy)
    assert m.golden is not None and m.golden.source == "validation" and m.golden.rows > 0
    assert "golden.bin" in m.files and m.features and m.classes


@pytest.mark.parametrize("what", ["classes", "features", "range"])
def test_schema_edit_in_an_export_is_refused_by_every_backend(exported: dict[str, Path],
                                                              tmp_path: Path, what: str) -> None:
    edits = {"classes": lambda m: (m["schema"]["classes"].reverse(), m["classes"].reverse()),
             "features": lambda m: (m["schema"]["features"].reverse(), m["features"].reverse()),
             "range": lambda m: m["schema"]["features"][0].update(min=-1e9)}
    for name, src in exported.items():
        copy = Path(shutil.copytree(src, tmp_path / f"{name}-{what}"))
        _edit(copy, edits[what])
        with pytest.raises(ArtifactError, match="digest mismatch"):
            load_backend(copy)


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "", "~/x", "a\\b",
                                  "manifest.json"])
def test_listed_names_must_stay_inside(onnx_copy: Path, name: str) -> None:
    body = manifest_body(files={name: "0" * 64, "model.onnx": "0" * 64})
    (onnx_copy / MANIFEST).write_text(json.dumps(body))
    with pytest.raises(ArtifactError, match="relative paths inside|its own manifest"):
        load_artifact(onnx_copy)


def test_unlisted_file_and_dropped_entry_are_refused(onnx_copy: Path, tmp_path: Path) -> None:
    (onnx_copy / "extra.bin").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="extra.bin: file not listed"):
        load_backend(onnx_copy)
    (onnx_copy / "extra.bin").unlink()
    (onnx_copy / "sub").mkdir()
    (onnx_copy / "sub" / "hidden").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="not listed"):
        load_artifact(onnx_copy)
    shutil.rmtree(onnx_copy / "sub")
    (onnx_copy / "link").symlink_to(tmp_path)
    with pytest.raises(ArtifactError, match="symbolic link"):
        load_artifact(onnx_copy)
    (onnx_copy / "link").unlink()
    load_artifact(onnx_copy)


def test_openvino_bin_dropped_from_files_is_refused(synth_run: Path, tmp_path: Path) -> None:
    """An entry removed from `files` with the digest recomputed (a forger's full edit) still
    leaves an unlisted file in the folder."""
    from phoneprice_edge.artifact import with_digest
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile

    art = export_profile(synth_run, load_profile("openvino-fp32")).out_dir
    copy = Path(shutil.copytree(art, tmp_path / "ov"))
    raw = json.loads((copy / MANIFEST).read_text())
    del raw["files"]["model.bin"]
    (copy / MANIFEST).write_text(json.dumps(with_digest(raw)))
    with pytest.raises(ArtifactError, match="model.bin: file not listed"):
        load_backend(copy)


def test_missing_and_edited_files(onnx_copy: Path) -> None:
    (onnx_copy / "golden.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ArtifactError, match="golden.bin: sha256 mismatch"):
        load_artifact(onnx_copy)
    (onnx_copy / "golden.bin").unlink()
    with pytest.raises(ArtifactError, match="golden.bin: artifact file missing"):
        load_artifact(onnx_copy)
    assert read_manifest(onnx_copy).target == "onnx"  # the cheap read hashes nothing
