"""Configuration: one resolver, in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest

from labbook.config import RANGES, Settings, find_home
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


@pytest.mark.parametrize("source", ["file", "env", "argument"])
@pytest.mark.parametrize("name, value, needle", [
    pytest.param("flush_interval", "fast", "is not a valid float", id="flush-text"),
    pytest.param("flush_interval", 1e-9, "out of range", id="flush-tiny"),
    pytest.param("flush_interval", float("nan"), "out of range", id="flush-nan"),
    pytest.param("max_pending", 2500.5, "not a whole number", id="pending-fraction"),
    pytest.param("max_pending", 10, "out of range", id="pending-small"),
    pytest.param("heartbeat_interval", -1, "out of range", id="heartbeat-negative"),
    pytest.param("crash_timeout", 0, "out of range", id="crash-zero"),
    pytest.param("index_interval", 1e12, "out of range", id="index-huge"),
    pytest.param("resources_interval", 0.001, "out of range", id="resources-tiny"),
    pytest.param("rank_metrics", "some", "'rank0' or 'all'", id="choice"),
    pytest.param("collect_resources", "maybe", "is not a boolean", id="bool"),
])
def test_every_setting_is_checked_wherever_it_comes_from(tmp_path, source, name, value, needle):
    variable = Settings._ENV[name][0][0]
    env: dict[str, str] = {}
    explicit: dict = {}
    if source == "file":
        literal = f'"{value}"' if isinstance(value, str) else ("nan" if value != value else repr(value))
        (tmp_path / "config.toml").write_text(f"{name} = {literal}\n")
        where = f"{name}={value!r} in {tmp_path / 'config.toml'}"
    elif source == "env":
        env[variable] = str(value)
        where = f"{variable}={str(value)!r}"
    else:
        explicit[name] = value
        where = f"{name}={value!r}"
    with pytest.raises(ConfigError) as error:
        Settings.load(explicit, home=tmp_path, env=env)
    message = str(error.value)
    assert needle in message
    if source != "file" or value == value:  # NaN's repr differs between TOML and Python
        assert where in message, message
    if name in RANGES:
        low, high, _unit = RANGES[name]
        assert f"from {low:g}" in message, message


def test_a_wrong_type_in_the_config_file_names_the_file(tmp_path):
    (tmp_path / "config.toml").write_text('flush_interval = "fast"\nno_op = 3\n')
    with pytest.raises(ConfigError, match=r"flush_interval='fast' in .*config.toml is not a valid float"):
        Settings.load({}, home=tmp_path, env={})


def test_good_values_pass_in_every_form(tmp_path):
    (tmp_path / "config.toml").write_text('flush_interval = 2\nmax_pending = "5000"\n')
    settings = Settings.load({"heartbeat_interval": 3}, home=tmp_path,
                             env={"LABBOOK_CRASH_TIMEOUT": " 90 ", "LABBOOK_NO_OP": "off"})
    assert settings.flush_interval == 2.0 and isinstance(settings.flush_interval, float)
    assert settings.max_pending == 5000 and settings.crash_timeout == 90.0
    assert settings.heartbeat_interval == 3.0 and settings.no_op is False


def test_run_arguments_go_through_the_same_checks(home):
    from labbook.tracking.run import Run

    with pytest.raises(ConfigError, match=r"flush_interval=1e-09 is out of range"):
        Run(project="p", flush_interval=1e-9, install_handlers=False)
    with pytest.raises(ConfigError, match=r"resources_interval='often' is not a valid float"):
        Run(project="p", resources_interval="often", install_handlers=False)


# -- configuration that says no --------------------------------------------------------------


@pytest.mark.parametrize("text, key, closest", [
    pytest.param('catlog_url = "postgresql://x"\n', "catlog_url", "catalog_url", id="top-level"),
    pytest.param('[labbook]\nflush_intervl = 0.5\n', "flush_intervl", "flush_interval", id="table"),
])
def test_an_unknown_key_in_the_config_file_names_the_closest_setting(tmp_path, text, key, closest):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError) as error:
        Settings.load({}, home=tmp_path, env={})
    message = str(error.value)
    assert f"Unknown setting '{key}'" in message
    assert f"did you mean '{closest}'" in message
    assert str(tmp_path / "config.toml") in message


def test_an_unknown_key_far_from_every_setting_lists_them(tmp_path):
    (tmp_path / "config.toml").write_text("zzzz = 1\n")
    with pytest.raises(ConfigError, match="Known settings: .*catalog_url"):
        Settings.load({}, home=tmp_path, env={})


def test_a_string_where_a_number_belongs_in_the_file_names_key_value_and_file(tmp_path):
    (tmp_path / "config.toml").write_text('index_interval = "soon"\n')
    with pytest.raises(ConfigError) as error:
        Settings.load({}, home=tmp_path, env={})
    assert f"index_interval='soon' in {tmp_path / 'config.toml'}" in str(error.value)


def test_a_number_where_text_belongs_in_the_file_is_refused(tmp_path):
    (tmp_path / "config.toml").write_text("catalog_url = 5\n")
    with pytest.raises(ConfigError, match=r"catalog_url=5 in .*config.toml is a int; catalog_url takes a string"):
        Settings.load({}, home=tmp_path, env={})


def test_an_unknown_explicit_setting_is_refused():
    with pytest.raises(ConfigError, match=r"Unknown setting 'flush_intreval' \(an argument\).*'flush_interval'"):
        Settings.load({"flush_intreval": 1.0}, env={})


def test_every_setting_has_help_text_and_a_variable():
    from labbook.config import SETTINGS

    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names))
    assert set(names) == set(Settings._ENV)
    for setting in SETTINGS:
        assert setting.help.strip() and setting.help.rstrip().endswith((".", ")")), setting.name
        assert setting.variables and all(v.isupper() for v in setting.variables)


def test_process_variables_are_read_by_config():
    from labbook.config import process_environment

    env = {"LABBOOK_RUN_UUID": "ab" * 16, "RANK": "3", "LABBOOK_LOG_LEVEL": "DEBUG",
           "LABBOOK_RUN_GROUP": "exp42"}
    found = process_environment(env)
    assert (found.run_uuid, found.rank, found.log_level, found.run_group) == ("ab" * 16, 3, "DEBUG", "exp42")
    assert process_environment({"POLYAXON_LOG_LEVEL": "WARNING"}).log_level == "WARNING"
    assert process_environment({}).rank == 0
    with pytest.raises(ConfigError, match="RANK='x' is not a whole number"):
        process_environment({"RANK": "x"})


def test_labbook_variables_are_read_in_config_only():
    import re

    import labbook

    root = Path(labbook.__file__).parent
    reads = re.compile(r"""(environ|env)(\.get\(|\[)\s*["'](LABBOOK|POLYAXON)_\w+["']\s*(\)|\](?!\s*=[^=]))""")
    found = [f"{path.relative_to(root)}: {match.group(0)}"
             for path in root.rglob("*.py") if path.name != "config.py"
             for match in reads.finditer(path.read_text())]
    assert found == []
    assert reads.search('x = os.environ.get("LABBOOK_RUN_UUID")')  # the pattern finds a read
    assert not reads.search('os.environ["LABBOOK_HOME"] = str(home)')  # and not a write
