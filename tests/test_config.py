"""Configuration: one resolver, in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest

from labbook.config import Settings, find_home
from labbook.errors import ConfigError


def test_order_explicit_then_environment_then_file_then_defaults(tmp_path):
    home = tmp_path / ".labbook"
    home.mkdir()
    (home / "config.toml").write_text('[labbook]\nproject = "from-file"\nflush_interval = 0.5\n'
                                      'index_interval = 7.0\n')
    env = {"LABBOOK_FLUSH_INTERVAL": "0.25", "LABBOOK_PROJECT": "from-env"}
    settings = Settings.load({"project": "explicit"}, home=home, env=env)
    assert settings.project == "explicit"          # explicit beats the environment
    assert settings.flush_interval == 0.25          # the environment beats the file
    assert settings.index_interval == 7.0           # the file beats the default
    assert settings.max_pending == 1_000_000        # the default
    assert settings.artifacts_root == str(home / "artifacts")
    assert settings.catalog_url == f"sqlite:///{home / 'catalog.db'}"


def test_home_is_found_walking_up(tmp_path):
    (tmp_path / ".labbook").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_home(deep, env={}) == tmp_path / ".labbook"
    assert find_home(deep, env={"LABBOOK_HOME": str(tmp_path / "x")}) == tmp_path / "x"


@pytest.mark.parametrize("env, message", [
    pytest.param({"LABBOOK_NO_OP": "maybe"}, "LABBOOK_NO_OP='maybe' is not a boolean", id="bool"),
    pytest.param({"LABBOOK_FLUSH_INTERVAL": "soon"}, "LABBOOK_FLUSH_INTERVAL='soon'", id="float"),
    pytest.param({"LABBOOK_FLUSH_INTERVAL": "0"}, "must be a positive number", id="zero"),
    pytest.param({"LABBOOK_RANK_METRICS": "some"}, "'rank0' or 'all'", id="choice"),
])
def test_bad_values_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load({}, home=tmp_path, env=env)


def test_a_broken_config_file_is_named(tmp_path):
    (tmp_path / "config.toml").write_text("project = [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.toml is not valid TOML"):
        Settings.load({}, home=tmp_path, env={})


def test_polyaxon_no_op_variable_is_honoured(tmp_path):
    assert Settings.load({}, home=tmp_path, env={"POLYAXON_NO_OP": "true"}).no_op is True
    assert Settings.load({}, home=tmp_path, env={}).no_op is False


def test_nothing_is_created_by_loading(tmp_path):
    Settings.load({}, home=tmp_path / "new", env={})
    assert not Path(tmp_path / "new").exists()
