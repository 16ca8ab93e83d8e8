"""PE_NUMERICS: the portable default pins MKL/ATen/oneDNN dispatch before torch loads, is recorded in
config.toml, reaches child processes, and gives the same weights under an emulated AVX2-only CPU."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from phoneprice_edge import numerics
from phoneprice_edge.config import (
    TrainConfig,
    load_numerics_record,
    load_train_config,
    save_train_config,
)
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.numerics import PORTABLE_ENV, NumericsWarning, settle

QEMU_STATE = Path(os.environ.get("PE_QEMU_STATE", Path.home() / ".cache" / "phoneprice_edge" / "qemu"))
EMULATED_CPU = "Haswell-v4"  # AVX2 + FMA, no AVX-512: what an older Intel or AMD runner has


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without PE_NUMERICS and the three dispatch variables (as a fresh shell)."""
    env = {k: v for k, v in os.environ.items() if k not in (numerics.MODE_VAR, *PORTABLE_ENV)}
    return {**env, **extra}


def portable_here() -> None:
    if numerics.state().mode != "portable":
        pytest.skip(f"this test session runs {numerics.MODE_VAR}={numerics.state().mode}")


# -- the mode itself ----------------------------------------------------------------------------
def test_portable_sets_all_three() -> None:
    env: dict[str, str] = {"PATH": "/bin"}
    st = settle(env, torch_loaded=False)
    assert st.mode == "portable" and st.before_torch and not st.messages
    assert env == {"PATH": "/bin", **PORTABLE_ENV} and st.env == PORTABLE_ENV


def test_native_leaves_the_environment_alone() -> None:
    env = {"PE_NUMERICS": "native"}
    st = settle(env, torch_loaded=True)
    assert env == {"PE_NUMERICS": "native"} and st.mode == "native" and st.env == {}
    assert not st.messages
    own = {"PE_NUMERICS": " Native ", "MKL_CBWR": "AVX2"}
    st = settle(own, torch_loaded=False)
    assert own == {"PE_NUMERICS": " Native ", "MKL_CBWR": "AVX2"} and st.env == {"MKL_CBWR": "AVX2"}


def test_portable_replaces_other_values_and_says_so() -> None:
    env = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "default"}
    st = settle(env, torch_loaded=False)
    assert env == PORTABLE_ENV and st.replaced == ("MKL_CBWR=AVX2",)
    assert len(st.messages) == 1 and "PE_NUMERICS=native" in st.messages[0]


def test_torch_imported_first_is_reported() -> None:
    st = settle({}, torch_loaded=True)
    assert not st.before_torch and "not guaranteed bit-reproducible" in st.messages[-1]
    # the variables were already in place when torch loaded: nothing to report
    st = settle(dict(PORTABLE_ENV), torch_loaded=True)
    assert st.before_torch and not st.messages


def test_unknown_mode_falls_back_to_portable_with_a_warning() -> None:
    env = {"PE_NUMERICS": "fastest"}
    st = settle(env, torch_loaded=False)
    assert st.mode == "portable" and "'fastest'" in st.messages[0] and env["MKL_CBWR"] == "COMPATIBLE"


def test_this_process_is_portable() -> None:
    portable_here()
    assert {k: os.environ.get(k) for k in PORTABLE_ENV} == PORTABLE_ENV
    assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"
    rec = numerics.record()
    assert rec["mode"] == "portable" and rec["cpu_capability"] == "DEFAULT"


def _probe(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=True)


def test_fresh_process_default_native_and_late_import() -> None:
    show = "import os, torch; print(os.environ.get('MKL_CBWR'), torch.backends.cpu.get_cpu_capability())"
    out = _probe("import phoneprice_edge; " + show, clean_env())
    assert out.stdout.split() == ["COMPATIBLE", "DEFAULT"] and "NumericsWarning" not in out.stderr
    out = _probe("import phoneprice_edge; " + show, clean_env(PE_NUMERICS="native"))
    assert out.stdout.split()[0] == "None" and "NumericsWarning" not in out.stderr
    late = _probe("import torch, phoneprice_edge; import phoneprice_edge.train", clean_env())
    assert late.stderr.count("NumericsWarning") == 1 and "torch was imported before" in late.stderr


def test_spawned_fold_workers_inherit_it() -> None:
    portable_here()
    from phoneprice_edge.training import parallel

    with mp.get_context("spawn").Pool(1, initializer=parallel._init_worker) as pool:
        assert pool.map(os.getenv, list(PORTABLE_ENV)) == list(PORTABLE_ENV.values())
        assert pool.apply(torch.backends.cpu.get_cpu_capability) == "DEFAULT"


# -- the record in config.toml --------------------------------------------------------------------
def test_config_toml_record_round_trips(tmp_path: Path) -> None:
    cfg = TrainConfig().with_overrides(epochs=3)
    rec = numerics.record()
    path = save_train_config(cfg, tmp_path / "config.toml", numerics=rec)
    assert load_train_config(path) == cfg  # --config RUN/config.toml and --resume still read it
    assert load_numerics_record(path) == rec == tomllib.loads(path.read_text())["numerics"]
    (tmp_path / "old.toml").write_text("epochs = 3\n")
    assert load_numerics_record(tmp_path / "old.toml") is None


def test_numerics_as_a_setting_points_to_the_environment(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('numerics = "native"\n')
    with pytest.raises(ConfigError, match="PE_NUMERICS"):
        load_train_config(tmp_path / "c.toml")


def test_resume_under_other_numerics_warns(tmp_path: Path, phone) -> None:
    portable_here()
    from phoneprice_edge.training.run import read_resume_inputs, train_run

    X, y, schema = phone
    cfg = TrainConfig().with_overrides(epochs=3, hidden_dims=[8], device="cpu", feature_select="none")

    def stop(label: str, epoch: int) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, X, y, schema, tmp_path / "run", hook=stop)
    conf = tmp_path / "run" / "config.toml"
    assert load_numerics_record(conf)["mode"] == "portable"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericsWarning)
        read_resume_inputs(tmp_path / "run")  # same numerics: silent
    text = conf.read_text()
    conf.write_text(text[:text.index("[numerics]")] + '[numerics]\nmode = "native"\n')
    with pytest.warns(NumericsWarning, match="PE_NUMERICS=native .*not bit-identical"):
        read_resume_inputs(tmp_path / "run")


# -- the same weights under an emulated AVX2-only CPU -------------------------------------------
def _qemu() -> str:
    exe = shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")
    if exe:
        return exe
    reason = (QEMU_STATE / "skip_reason").read_text().strip() if (QEMU_STATE / "skip_reason").is_file() \
        else "no qemu-x86_64 (scripts/test.d/05-qemu.sh installs Debian's qemu-user as root)"
    pytest.skip(reason)


def weights_sha256(checkpoint: Path) -> str:
    """sha256 over the state_dict tensors (phoneprice_edge.checkpoint.weights_sha256)."""
    from phoneprice_edge.checkpoint import weights_sha256 as sha

    return sha(checkpoint)


@pytest.mark.slow
@pytest.mark.parametrize(("kfold", "cpu"), [
    (0, EMULATED_CPU),  # a holdout fit (per-fold Trainer)
    (3, EMULATED_CPU),  # k-fold (stacked)
    # an AMD vendor string: MKL takes vendor-specific paths (torch.sqrt's vector math differs
    # in the last bit on it, so a plain torch.optim.AdamW loop trains other weights there)
    (3, "EPYC-Milan-v1"),
])
def test_same_weights_natively_and_on_an_emulated_avx2_cpu(tmp_path: Path, kfold: int, cpu: str) -> None:
    qemu = _qemu()
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        pytest.skip("the emulated-CPU check is for x86-64 Linux hosts")
    env = clean_env()  # the default, as a user's shell: PE_NUMERICS and the variables unset
    cli = [sys.executable, "-m", "phoneprice_edge.cli"]
    data = tmp_path / "d.csv"
    subprocess.run([*cli, "data", "synth", "--rows", "300", "--seed", "1", "--out", str(data)],
                   env=env, check=True, capture_output=True, timeout=120)
    # the default recipe's two stages (relaxed lasso), shortened: about 40 s emulated
    train = ["train", "--data", str(data), "--epochs", "10", "--set", "stage2_epochs=5", "-q",
             *(["--kfold", str(kfold)] if kfold else [])]
    pe = Path(sys.executable).with_name("pe")
    native = [str(pe)] if pe.is_file() else cli  # the console script where installed
    runs = {"native": native, "emulated": [qemu, "-cpu", cpu, *cli]}
    for name, prefix in runs.items():
        out = subprocess.run([*prefix, *train, "--out", str(tmp_path / name)], env=env,
                             capture_output=True, text=True, timeout=540)
        assert out.returncode == 0, out.stderr[-2000:]
    rec = {n: load_numerics_record(tmp_path / n / "config.toml") for n in runs}
    assert rec["emulated"]["cpu_supports"] == "AVX2", rec  # qemu really hid AVX-512
    for r in rec.values():
        assert r["mode"] == "portable" and r["cpu_capability"] == "DEFAULT", r
        assert {k: r[k] for k in PORTABLE_ENV} == PORTABLE_ENV
    files = ["checkpoints/best_model.pt", *(f"folds/fold_{i}/model.pt" for i in range(1, kfold + 1))]
    hashes = {n: [weights_sha256(tmp_path / n / f) for f in files] for n in runs}
    assert hashes["native"] == hashes["emulated"], (hashes, rec)
    histories = ["history.jsonl", *(f"folds/fold_{i}/history.jsonl" for i in range(1, kfold + 1))]
    for f in histories:  # every logged figure too (losses, accuracies, gradient norms, rates)
        assert (tmp_path / "native" / f).read_bytes() == (tmp_path / "emulated" / f).read_bytes(), f
    if kfold:  # the folds were trained as one stacked model (training/stacked.py)
        from phoneprice_edge.training.kfold import stacked

        assert stacked(load_train_config(tmp_path / "native" / "config.toml"))


def test_openvino_gets_its_onednn_uncapped(monkeypatch: pytest.MonkeyPatch) -> None:
    from phoneprice_edge import numerics

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    monkeypatch.delenv("PE_NUMERICS", raising=False)
    with numerics.openvino_uncapped() as taken:
        assert taken and "ONEDNN_MAX_CPU_ISA" not in os.environ
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "SSE41"  # torch (training) still sees it
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # a user's own cap stays
    with numerics.openvino_uncapped() as taken:
        assert not taken and os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    monkeypatch.setenv("PE_NUMERICS", "native")
    with numerics.openvino_uncapped() as taken:
        assert not taken
