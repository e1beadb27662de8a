"""Config: precedence of sources, the example file, and every error path's message."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from config import ConfigError, Settings, load_settings
from config.example import EXAMPLE_PATH, example_toml
from config.settings import SECTIONS


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings, path = load_settings(data_dir=tmp_path, environ={})
    assert path == tmp_path / "config.toml"
    assert settings == Settings(storage={"data_dir": tmp_path})  # type: ignore[arg-type]
    assert settings.database_path == tmp_path / "ledger.db"
    assert settings.token_path == tmp_path / "platform.token"


def test_precedence_cli_over_env_over_file_over_default(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml",
        '[sync]\nbatch_size = 100\ninterval_seconds = 30\n[shop]\nname = "Bakkerij"\n',
    )
    environ = {"CITIE_SYNC_BATCH_SIZE": "200", "CITIE_SHOP_LANGUAGE": "fr"}
    settings, _ = load_settings(
        config=cfg, environ=environ, overrides={"sync": {"interval_seconds": 90}}
    )
    assert settings.sync.batch_size == 200  # env beats file
    assert settings.sync.interval_seconds == 90  # command line beats file
    assert settings.shop.name == "Bakkerij"  # file beats default
    assert settings.shop.language == "fr"  # env beats default
    assert settings.sync.backup_retention == 7  # default


def test_cli_data_dir_beats_env_and_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", f'[storage]\ndata_dir = "{tmp_path / "file"}"\n')
    environ = {"CITIE_DATA_DIR": str(tmp_path / "env")}
    from_file, _ = load_settings(config=cfg, environ={})
    from_env, _ = load_settings(config=cfg, environ=environ)
    from_cli, _ = load_settings(config=cfg, environ=environ, data_dir=tmp_path / "cli")
    assert from_file.data_dir == tmp_path / "file"
    assert from_env.data_dir == tmp_path / "env"
    assert from_cli.data_dir == tmp_path / "cli"


def test_env_list_is_comma_separated(tmp_path: Path) -> None:
    settings, _ = load_settings(data_dir=tmp_path, environ={"CITIE_CAMERA_DECODERS": "zbar, zxing"})
    assert settings.camera.decoders == ["zbar", "zxing"]


def test_example_file_is_current_and_documents_every_field() -> None:
    assert EXAMPLE_PATH.read_text(encoding="utf-8") == example_toml(), (
        "config/example.toml is stale: regenerate it with `python -m config.example`"
    )
    text = EXAMPLE_PATH.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    lines = text.splitlines()
    for section, model in SECTIONS.items():
        assert section in data, f"[{section}] missing from example.toml"
        for key, field in model.model_fields.items():
            assert key in data[section], f"[{section}] {key} missing from example.toml"
            assert field.description, f"[{section}] {key} has no docstring"
            index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
            assert lines[index - 1].startswith("# "), f"[{section}] {key} has no comment"
    # and the example itself loads
    load_settings(config=EXAMPLE_PATH, environ={})


def error_for(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    cfg = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(config=cfg, environ=environ or {})
    assert info.value.exit_code == 2
    return str(info.value)


def test_bad_value_names_file_key_value_and_what_is_allowed(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[sync]\nbatch_size = 0\n")
    assert str(tmp_path / "config.toml") in message
    assert "[sync] batch_size" in message
    assert "= 0" in message
    assert "from 1 to 5000" in message


def test_bad_choice_lists_the_choices(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[shop]\nlanguage = "es"\n')
    assert "[shop] language = 'es'" in message
    for choice in ("'fr'", "'nl'", "'de'", "'en'"):
        assert choice in message


def test_wrong_type(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[terminal]\nbell = "loud"\n')
    assert "[terminal] bell = 'loud'" in message
    assert "true or false" in message


def test_unknown_key_suggests_the_nearest(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[sync]\nbatch_sise = 3\n")
    assert "unknown key [sync] batch_sise" in message
    assert "Did you mean 'batch_size'?" in message


def test_unknown_section_suggests_the_nearest(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[printr]\nkind = 'none'\n")
    assert "unknown section [printr]" in message
    assert "'printer'" in message


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    message = error_for(tmp_path, "shop = 3\n")
    assert "[shop] must be a table" in message


def test_invalid_toml_names_the_file_and_position(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[shop\nname = 'x'\n")
    assert "not valid TOML" in message
    assert "line 1" in message


def test_not_utf8(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(b'[shop]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(config=cfg, environ={})


def test_named_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.toml"):
        load_settings(config=tmp_path / "missing.toml", environ={})


def test_cross_field_rule_names_the_section(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[printer]\nkind = "network"\n')
    assert "section [printer]" in message
    assert "needs a target" in message


def test_platform_url_must_be_https_except_loopback(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[platform]\nurl = "http://city.example"\n')
    assert "https://" in message
    ok, _ = load_settings(
        data_dir=tmp_path, environ={"CITIE_PLATFORM_URL": "http://127.0.0.1:8765/"}
    )
    assert ok.platform.url == "http://127.0.0.1:8765"


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path, environ={"CITIE_SYNC_INTERVAL_SECONDS": "soon"})
    message = str(info.value)
    assert "environment variable CITIE_SYNC_INTERVAL_SECONDS = 'soon'" in message
    assert "a whole number" in message


def test_unknown_env_variable_suggests_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path, environ={"CITIE_SYNC_BATCHSIZE": "3"})
    assert "CITIE_SYNC_BATCHSIZE" in str(info.value)
    assert "CITIE_SYNC_BATCH_SIZE" in str(info.value)


def test_bad_command_line_value_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path, environ={}, overrides={"shop": {"id": "bad id!"}})
    assert "command-line option --shop-id" in str(info.value)


def test_readme_configuration_reference_is_current() -> None:
    from config.example import reference_table

    readme = (EXAMPLE_PATH.parents[1] / "README.md").read_text(encoding="utf-8")
    start = "<!-- config-reference:start -->\n"
    section = readme.split(start, 1)[1].split("<!-- config-reference:end -->", 1)[0]
    assert section == reference_table(), (
        "README configuration reference is stale: run `python -m config.example`"
    )
