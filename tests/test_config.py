"""TrainConfig: defaults, TOML round trip, unknown keys and bad values, CLI exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.config import (
    TrainConfig,
    default_config_text,
    load_train_config,
    parse_override,
    save_train_config,
)
from phoneprice_edge.errors import ConfigError


def test_default_file_documents_every_key() -> None:
    text = default_config_text()
    for key in TrainConfig().to_dict():
        assert f"\n{key} = " in text, f"defaults/train.toml does not document {key}"
    assert load_train_config() == TrainConfig()


def test_round_trip(tmp_path: Path) -> None:
    cfg = load_train_config().with_overrides(hidden_dims=[8, 4], optimizer="sgd", refit=True,
                                             kfold=3, label_smoothing=0.1, device="cpu")
    save_train_config(cfg, tmp_path / "config.toml")
    assert load_train_config(tmp_path / "config.toml") == cfg


def test_file_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("epochs = 7\nlearning_rate = 1\n")
    cfg = load_train_config(tmp_path / "c.toml")
    assert cfg.epochs == 7 and cfg.learning_rate == 1.0 and cfg.batch_size == TrainConfig().batch_size


@pytest.mark.parametrize(("text", "needle"), [
    ("lerning_rate = 0.1\n", "'lerning_rate'"),
    ("[optim]\nlr = 0.1\n", "'optim'"),
    ("epochs = 'ten'\n", "epochs"),
    ("optimizer = 'adam'\n", "optimizer"),
    ("dropout_p = 1.5\n", "dropout_p"),
    ("hidden_dims = [32, 0]\n", "hidden_dims"),
    ("wide = 1\n", "wide"),
    ("epochs = \n", "not valid TOML"),
])
def test_bad_config_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_train_config(path)
    assert needle in str(exc.value) and str(path) in str(exc.value)


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_train_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_train_config(tmp_path)  # a folder
    (tmp_path / "latin1.toml").write_bytes("epochs = 3 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.toml: not valid TOML"):
        load_train_config(tmp_path / "latin1.toml")


def test_parse_override() -> None:
    assert parse_override("hidden_dims=[64, 32]") == ("hidden_dims", [64, 32])
    assert parse_override("optimizer=sgd") == ("optimizer", "sgd")
    assert parse_override("wide=true") == ("wide", True)
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        parse_override("nope=1")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("epochs")


def _run_train(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from phoneprice_edge.cli.train import cmd

    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args, prog_name="pe-train")
    return int(exc.value.code), capsys.readouterr().err


def test_cli_unknown_key_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text("epochs = 3\nbatchsize = 8\n")
    code, err = _run_train(["--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    assert "'batchsize'" in err and "c.toml" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_cli_bad_value_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_train(["--set", "scheduler=linear", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "scheduler" in err
    code, err = _run_train(["--epochs", "0", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "epochs" in err
    code, err = _run_train(["--refit", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "refit needs kfold" in err


def test_cli_missing_config_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_train(["--config", str(tmp_path / "none.toml")], capsys)
    assert code == 2 and "not found" in err
