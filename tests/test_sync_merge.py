"""run.json edited on both sides of a sync: the per-field three-way merge (``labbook.sync.merge``)."""

from __future__ import annotations

import orjson
import pytest

from labbook.store.runfile import dump_run_record
from labbook.sync.merge import merge_run_json, merge_run_records

BASE = {
    "format": "labbook.run", "version": 1, "uuid": "a" * 32, "project": "p", "name": "first",
    "description": None, "tags": ["mine"], "status": "running",
    "status_conditions": [{"status": "running", "time": "t0"}], "created_at": "t0", "started_at": "t0",
    "finished_at": None, "duration": None, "heartbeat_at": "t0", "inputs": {"lr": 0.1}, "outputs": {},
    "meta": {}, "readme": None, "code": {}, "env": {},
}
ENDED = {"status": "succeeded", "finished_at": "t9", "duration": 9.0, "heartbeat_at": "t9",
         "status_conditions": [*BASE["status_conditions"], {"status": "succeeded", "time": "t9"}]}


def edited(**fields):
    return {**BASE, **fields}


@pytest.mark.parametrize("server, client, expected", [
    pytest.param({}, {}, {}, id="nothing-changed"),
    pytest.param({"tags": ["mine", "reviewed"]}, {}, {"tags": ["mine", "reviewed"]}, id="tag-added-on-server"),
    pytest.param({"tags": ["mine", "reviewed"]}, {"tags": ["mine", "best"]}, {"tags": ["mine", "best", "reviewed"]},
                 id="tags-added-on-both"),
    pytest.param({"tags": []}, {"tags": ["mine", "best"]}, {"tags": ["best"]}, id="tag-removed-on-server"),
    pytest.param({"tags": ["mine", "reviewed"]}, {"tags": []}, {"tags": ["reviewed"]}, id="tag-removed-on-client"),
    pytest.param({"tags": ["reviewed"]}, {"tags": ["mine", "x"]}, {"tags": ["x", "reviewed"]},
                 id="tags-replaced-on-server"),
    pytest.param({"name": "renamed"}, ENDED, {"name": "renamed", **ENDED}, id="name-on-server-client-ends"),
    pytest.param({"name": "server"}, {"name": "client"}, {"name": "client"}, id="name-on-both-client-wins"),
    pytest.param({"description": "why"}, {}, {"description": "why"}, id="description-on-server"),
    pytest.param({"inputs": {"lr": 0.1, "batch": 32}}, {"inputs": {"lr": 0.2}}, {"inputs": {"lr": 0.2, "batch": 32}},
                 id="inputs-key-by-key"),
    pytest.param({"inputs": {"lr": 0.3}}, {"inputs": {"lr": 0.2}}, {"inputs": {"lr": 0.2}},
                 id="inputs-same-key-client-wins"),
    pytest.param({"inputs": {}}, {"inputs": {"lr": 0.1, "seed": 1}}, {"inputs": {"seed": 1}},
                 id="input-removed-on-server"),
    pytest.param({"outputs": {"note": "ok"}}, {"outputs": {"acc": 0.9}}, {"outputs": {"note": "ok", "acc": 0.9}},
                 id="outputs-on-both"),
    pytest.param({"status": "stopped", "status_conditions": [*BASE["status_conditions"], {"status": "stopped"}]},
                 {}, {"status": "stopped", "status_conditions": [*BASE["status_conditions"], {"status": "stopped"}]},
                 id="stopped-on-server"),
    pytest.param({"status": "stopped", "status_conditions": [*BASE["status_conditions"], {"status": "stopped"}]},
                 ENDED, {**ENDED, "status_conditions": [*ENDED["status_conditions"], {"status": "stopped"}]},
                 id="status-on-both-client-wins-conditions-kept"),
    pytest.param({"heartbeat_at": "t5"}, {"heartbeat_at": "t6"}, {"heartbeat_at": "t6"}, id="writer-field"),
    pytest.param({"uuid": "b" * 32}, {}, {}, id="identity-is-the-clients"),
    pytest.param({"reviewer": "ana"}, {"future": 1}, {"reviewer": "ana", "future": 1}, id="unknown-fields"),
])
def test_merge_run_records_follows_the_field_table(server, client, expected):
    assert merge_run_records(BASE, edited(**server), edited(**client)) == edited(**expected)


def test_merge_run_json_keeps_the_clients_bytes_unless_the_server_edited_since_the_base():
    base, client = dump_run_record(BASE), dump_run_record(edited(**ENDED))
    assert merge_run_json(None, base, client) is client  # a run synced before bases were kept
    assert merge_run_json(base, base, client) is client  # no edit on the server: the bytes as sent
    assert merge_run_json(base, client, client) is client
    server = dump_run_record(edited(tags=["mine", "reviewed"]))
    merged = merge_run_json(base, server, client)
    assert merged == dump_run_record(edited(**ENDED, tags=["mine", "reviewed"]))
    # idempotent: the same run.json sent again (a client that ignores the answer) changes nothing
    assert merge_run_json(client, merged, client) is merged
    assert merge_run_json(merged, merged, merged) is merged
    assert merge_run_json(base, b"{not json", client) is client


def test_the_run_folder_takes_the_merged_run_json_only_while_it_holds_what_was_sent(tmp_path):
    from labbook.store.runfile import replace_run_file, update_run_file

    run_file = tmp_path / "run.json"
    sent = dump_run_record(BASE)
    run_file.write_bytes(sent)
    update_run_file(run_file, [("set", "heartbeat_at", "t1")])  # its writer, after the pass read it
    merged = dump_run_record(edited(tags=["mine", "reviewed"]))
    assert not replace_run_file(run_file, merged, expected=sent)
    assert run_file.read_bytes() == dump_run_record(edited(heartbeat_at="t1"))  # the writer's change kept
    current = run_file.read_bytes()
    assert replace_run_file(run_file, merged, expected=current)
    assert run_file.read_bytes() == merged
    update_run_file(run_file, [("tags_add", "tags", ["best"])])  # the writer goes on from the merged one
    assert orjson.loads(run_file.read_bytes())["tags"] == ["mine", "reviewed", "best"]
