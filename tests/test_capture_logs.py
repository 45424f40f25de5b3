"""Log capture: fd-level stdout/stderr, logging records, restoration, reading back, the CLI.

Anything that replaces file descriptors 1 and 2 runs in a child process, so pytest's own capture
is never in the way; one test checks that a run inside pytest leaves pytest's capture working.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import labbook
from labbook.capture.logs import LogLine, read_logs
from tests.conftest import PYTHON, python_env


def _run_script(tmp_path: Path, home: Path, body: str, timeout: int = 60, **env: str):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([PYTHON, str(script)], env=python_env(home, **env), capture_output=True,
                          text=True, timeout=timeout, cwd=tmp_path)


def _uuid(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("RUN "))


def test_python_c_level_child_and_logging_output_are_all_kept_in_order(tmp_path, home):
    result = _run_script(tmp_path, home, """
        import logging, os, subprocess, sys
        from labbook import tracking

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        run = tracking.init(project="logs", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid, flush=True)
        print("from python", flush=True)
        os.write(1, b"from C-level write\\n")
        subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
        logging.getLogger("trainer").warning("loss is %s", "nan")
        raise RuntimeError("diverged")
    """)
    assert result.returncode == 1
    record = labbook.get_run(_uuid(result.stdout))
    assert record.status == "failed"
    failure = record.status_conditions[-1]
    assert failure["status"] == "failed" and "RuntimeError: diverged" in failure["message"]

    lines = record.logs()
    kept = [(line.stream, line.message) for line in lines if not line.message.startswith("RUN ")]
    assert kept[:4] == [
        ("stdout", "from python"),
        ("stdout", "from C-level write"),
        ("stdout", "from a child process"),
        ("stderr", "WARNING trainer: loss is nan"),
    ]
    warning = next(line for line in lines if "loss is nan" in line.message)
    assert (warning.level, warning.logger, warning.rank) == ("WARNING", "trainer", 0)
    assert len(kept) > 5
    traceback_lines = kept[4:]
    assert traceback_lines[0] == ("stderr", "Traceback (most recent call last):")
    assert traceback_lines[-1] == ("stderr", "RuntimeError: diverged")
    assert {stream for stream, _ in traceback_lines} == {"stderr"}
    # the console still showed everything, once
    assert result.stdout.count("from python") == 1
    assert "from C-level write" in result.stdout and "from a child process" in result.stdout
    assert result.stderr.count("WARNING trainer: loss is nan") == 1
    assert "RuntimeError: diverged" in result.stderr


def test_end_restores_file_descriptors_and_logging(tmp_path, home):
    result = _run_script(tmp_path, home, """
        import logging, os
        from labbook.tracking.run import Run

        before = os.fstat(1).st_ino, os.fstat(2).st_ino, logging.getLogRecordFactory()
        run = Run(project="logs", track_env=False, track_code=False, collect_resources=False)
        during = os.fstat(1).st_ino
        print("inside", flush=True)
        run.end()
        after = os.fstat(1).st_ino, os.fstat(2).st_ino, logging.getLogRecordFactory()
        print("after end", flush=True)
        print("RUN", run.uuid, before == after, during != before[0], flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert f"RUN {_uuid(result.stdout)} True True" in result.stdout
    messages = [line.message for line in labbook.get_run(_uuid(result.stdout)).logs()]
    assert messages == ["inside"]
    assert "after end" in result.stdout


def test_logging_nobody_printed_is_kept_with_level_and_logger(tmp_path, home):
    result = _run_script(tmp_path, home, """
        import logging
        from labbook import tracking

        log = logging.getLogger("quiet")
        log.addHandler(logging.NullHandler())
        log.propagate = False
        log.setLevel(logging.DEBUG)
        run = tracking.init(project="logs", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid, flush=True)
        log.debug("step %d done", 7)
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("bad batch")
        logging.getLogger("filtered").info("below the root level: never a record")
    """)
    assert result.returncode == 0, result.stderr
    lines = [line for line in labbook.get_run(_uuid(result.stdout)).logs() if line.stream == "logging"]
    assert (lines[0].level, lines[0].logger, lines[0].message) == ("DEBUG", "quiet", "step 7 done")
    assert [line.level for line in lines[1:]] == ["ERROR"] * (len(lines) - 1)
    assert lines[1].message == "bad batch"
    assert lines[-1].message == "ZeroDivisionError: division by zero"
    assert not any("never a record" in line.message for line in lines)
    assert "step 7 done" not in result.stderr  # capture did not make it print


def test_progress_bar_keeps_its_last_state_and_unfinished_line_is_kept(tmp_path, home):
    result = _run_script(tmp_path, home, """
        import sys
        from labbook import tracking
        run = tracking.init(project="logs", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid, flush=True)
        for i in range(0, 101, 25):
            sys.stderr.write(f"\\r{i}%")
        sys.stderr.write("\\n")
        sys.stdout.write("no newline at the end")
    """)
    assert result.returncode == 0, result.stderr
    lines = labbook.get_run(_uuid(result.stdout)).logs()
    assert [(line.stream, line.message) for line in lines[1:]] == [
        ("stderr", "100%"), ("stdout", "no newline at the end")]


def test_a_run_inside_pytest_leaves_pytest_capture_working(run_factory, capfd):
    run = run_factory(track_logs=True)
    os.write(1, b"written at fd level\n")
    print("printed", flush=True)
    run.end()
    os.write(1, b"after the run\n")
    out, _ = capfd.readouterr()
    assert "written at fd level" in out and "after the run" in out
    assert "written at fd level" in [line.message for line in read_logs(run.path)]


def _write_log(path: Path, records: list[dict], torn: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": "labbook.logs", "version": 1, "writer": path.stem, "rank": 0}
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [header, *records]) + torn)


def _record(second: int, message: str, rank: int = 0, stream: str = "stdout") -> dict:
    return {"timestamp": f"2026-01-01T00:00:{second:02d}.000000+00:00", "stream": stream,
            "level": None, "logger": None, "rank": rank, "message": message}


@settings(max_examples=40, deadline=None)
@given(messages=st.lists(st.text(max_size=40), max_size=30),
       torn=st.binary(max_size=30).filter(lambda b: b"\n" not in b),
       tail=st.one_of(st.none(), st.integers(min_value=0, max_value=40)))
def test_read_logs_round_trips_any_text_and_skips_a_torn_last_line(tmp_path_factory, messages, torn, tail):
    run_path = tmp_path_factory.mktemp("run")
    _write_log(run_path / "logs" / "0-1-a.jsonl", [_record(i % 60, m) for i, m in enumerate(messages)], torn)
    expected = [m for _, m in sorted(enumerate(messages), key=lambda p: p[0] % 60)]
    if tail is not None:
        expected = expected[-tail:] if tail else []
    assert [line.message for line in read_logs(run_path, tail=tail)] == expected


def test_ranks_merge_in_time_order_and_filter(tmp_path):
    _write_log(tmp_path / "logs" / "0-10-a.jsonl", [_record(1, "r0 first"), _record(3, "r0 second")])
    _write_log(tmp_path / "logs" / "1-11-b.jsonl", [_record(2, "r1 first", rank=1)])
    assert [line.message for line in read_logs(tmp_path)] == ["r0 first", "r1 first", "r0 second"]
    assert [line.message for line in read_logs(tmp_path, rank=1)] == ["r1 first"]
    assert [line.message for line in read_logs(tmp_path, tail=1)] == ["r0 second"]
    line = read_logs(tmp_path, rank=1)[0]
    assert isinstance(line, LogLine) and line.format(with_rank=True).endswith("[rank 1 stdout] r1 first")


@pytest.mark.parametrize("args, expected", [
    pytest.param([], ["one", "two", "three"], id="whole"),
    pytest.param(["--tail", "2"], ["two", "three"], id="tail"),
    pytest.param(["-f"], ["one", "two", "three"], id="follow-ended-run"),
])
def test_cli_logs(tmp_path, home, args, expected):
    from labbook.cli.main import cli

    result = _run_script(tmp_path, home, """
        from labbook import tracking
        run = tracking.init(project="logs", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid)
        print("one"); print("two"); print("three")
    """)
    uuid = _uuid(result.stdout)
    out = CliRunner().invoke(cli, ["logs", uuid[:8], *args])
    assert out.exit_code == 0, out.output
    printed = [line.split("] ", 1)[1] for line in out.output.splitlines()]
    assert printed[-len(expected):] == expected
    assert "[stdout]" in out.output


def test_cli_follow_prints_new_lines_until_the_run_ends(tmp_path, home):
    go = tmp_path / "go"
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(f"""
        import os, time
        from labbook import tracking
        run = tracking.init(project="logs", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid, flush=True)
        print("before", flush=True)
        for _ in range(600):
            if os.path.exists({str(go)!r}):
                break
            time.sleep(0.05)
        print("after", flush=True)
    """))
    env = python_env(home)
    child = subprocess.Popen([PYTHON, str(script)], env=env, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    follower = None
    try:
        uuid = child.stdout.readline().split()[1]
        follower = subprocess.Popen([PYTHON, "-m", "labbook.cli.main", "logs", uuid, "-f"], env=env,
                                    stdout=subprocess.PIPE, text=True, cwd=tmp_path)
        go.touch()
        out, _ = follower.communicate(timeout=60)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.stdout.close()
        if follower is not None:
            follower.kill()
            follower.stdout.close()
    assert follower.returncode == 0
    messages = [line.split("] ", 1)[1] for line in out.splitlines()]
    assert messages[-2:] == ["before", "after"]


def test_track_logs_false_captures_nothing(run_factory):
    run = run_factory(track_logs=False)
    os.write(1, b"not recorded\n")
    run.end()
    assert read_logs(run.path) == []
    assert not (run.path / "logs").exists()


def test_on_a_terminal_programs_still_see_a_terminal_and_colours_stay_out_of_the_record(tmp_path, home):
    import fcntl
    import struct
    import termios

    script = tmp_path / "tty.py"
    script.write_text(textwrap.dedent("""
        import os, subprocess, sys
        from labbook import tracking
        run = tracking.init(project="logs", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid)
        print("isatty", sys.stdout.isatty(), sys.stderr.isatty(), "columns", os.get_terminal_size().columns)
        print("\\x1b[1;31mred\\x1b[0m and plain", flush=True)
        subprocess.run([sys.executable, "-c", "import sys; print('child isatty', sys.stdout.isatty())"])
    """))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 123, 0, 0))
    child = subprocess.Popen([PYTHON, str(script)], env=python_env(home), stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=slave, cwd=tmp_path)
    os.close(slave)
    console = b""
    try:
        child.wait(timeout=60)
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer is gone
                break
            if not chunk:
                break
            console += chunk
    finally:
        child.kill()
        os.close(master)
    assert child.returncode == 0, console.decode(errors="replace")
    text = console.decode()
    assert "\x1b[1;31mred\x1b[0m" in text  # the terminal still gets its colours
    messages = [line.message for line in labbook.get_run(_uuid(text)).logs()]
    assert messages[1:] == ["isatty True True columns 123", "red and plain", "child isatty True"]


def test_a_run_never_ended_still_gives_the_console_back_at_exit(tmp_path, home):
    result = _run_script(tmp_path, home, """
        import os
        from labbook.tracking.run import Run
        run = Run(project="logs", track_env=False, track_code=False, collect_resources=False,
                  install_handlers=False)
        print("RUN", run.uuid)
        pid = os.fork()
        if pid == 0:
            print("from a forked child", flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("last words, still in Python's buffer at exit")
    """)
    assert result.returncode == 0, result.stderr
    assert "last words, still in Python's buffer at exit" in result.stdout
    messages = [line.message for line in read_logs(labbook.get_run(_uuid(result.stdout)).path)]
    assert "from a forked child" in messages
    assert messages[-1] == "last words, still in Python's buffer at exit"
