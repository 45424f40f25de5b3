"""The documentation stays in step with the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import PYTHON

ROOT = Path(__file__).resolve().parents[1]


def test_api_reference_is_current():
    result = subprocess.run([PYTHON, str(ROOT / "scripts" / "gen_api_docs.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    commands = re.search(r"```bash\n(.*?)\n```", readme, re.S).group(1).splitlines()
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_every_doc_link_resolves():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+\.md)", doc.read_text()):
            assert (doc.parent / target).is_file(), f"{doc.name} links to missing {target}"


def test_every_cli_command_is_documented():
    from labbook.cli.main import cli

    text = (ROOT / "docs" / "cli.md").read_text()
    # every `labbook ...` span of the page, with table-escaped pipes restored
    spans = [span.replace("\\|", "|") for span in re.findall(r"`(labbook [^`]+)`", text)]
    for name, command in cli.commands.items():
        mine = [span for span in spans if span.split()[1] == name]
        assert mine, f"docs/cli.md does not show 'labbook {name}'"
        for sub in getattr(command, "commands", {}):
            # the subcommand is the third word, alone or in an alternation like show|get|download
            assert any(sub in span.split()[2].split("|") for span in mine if len(span.split()) > 2), (
                f"docs/cli.md does not show 'labbook {name} {sub}'")


def test_every_setting_and_variable_is_documented():
    from labbook.config import PROCESS_VARIABLES, SETTINGS

    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [s.name for s in SETTINGS if f"| `{s.name}` |" not in text]
    missing += [v for s in SETTINGS for v in s.variables if f"`{v}`" not in text]
    missing += [v.name for v in PROCESS_VARIABLES if f"`{v.name}`" not in text]
    assert missing == []
