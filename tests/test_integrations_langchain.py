"""LangChain: the tracer logs chains, LLM and tool calls as traces (fake LLMs, no network)."""

from __future__ import annotations

import importlib.util

import pytest

import labbook
from labbook import tracking
from tests.conftest import require


@pytest.fixture
def lc():
    require(importlib.util.find_spec("langchain_core") is not None,
            "langchain-core is not installed (pip install -e '.[test]')")
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool

    return FakeListLLM, FakeListChatModel, PromptTemplate, ChatPromptTemplate, RunnableLambda, tool


def _start():
    return tracking.init(project="qa", track_code=False, track_env=False, track_logs=False)


def test_chain_with_llm_is_one_trace_with_child_spans(lc):
    FakeListLLM, _, PromptTemplate, _, _, _ = lc
    from labbook.tracking.contrib.langchain import Callback

    run = _start()
    chain = PromptTemplate.from_template("Say {word}") | FakeListLLM(responses=["hello"])
    assert chain.invoke({"word": "hi"}, config={"callbacks": [Callback()]}) == "hello"
    tracking.end()

    record = labbook.get_run(run.uuid)
    [trace] = record.events("span", "RunnableSequence")
    root = trace.value
    assert (root["kind"], root["status"]) == ("chain", "succeeded")
    assert root["inputs"] == {"word": "hi"} and root["outputs"] == {"output": "hello"}
    prompt, llm = root["children"]
    assert prompt["name"] == "PromptTemplate" and prompt["kind"] is None
    assert prompt["metadata"]["run_type"] == "prompt"
    assert prompt["outputs"]["output"]["kwargs"]["text"] == "Say hi"  # LangChain's serialization
    assert (llm["name"], llm["kind"]) == ("FakeListLLM", "llm")
    assert llm["inputs"] == {"prompts": ["Say hi"]}
    assert llm["outputs"]["generations"][0][0]["text"] == "hello"
    assert [depth for depth, _ in trace.walk()] == [0, 1, 1]
    # As in Polyaxon, the top-level call's inputs and outputs also go to the run's.
    assert record.inputs["word"] == "hi" and record.outputs["output"] == "hello"


def test_chat_model_tool_and_failure(lc, run_factory):
    _, FakeListChatModel, _, ChatPromptTemplate, RunnableLambda, tool = lc
    from labbook.integrations.langchain import Callback

    run = run_factory(project="qa")
    callback = Callback(run=run)
    chat = ChatPromptTemplate.from_messages([("human", "{q}")]) | FakeListChatModel(responses=["4"])
    assert chat.invoke({"q": "2+2?"}, config={"callbacks": [callback]}).content == "4"

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    assert add.invoke({"a": 1, "b": 2}, config={"callbacks": [callback]}) == 3

    def boom(_):
        raise ValueError("no answer")

    with pytest.raises(ValueError):
        RunnableLambda(boom).invoke(1, config={"callbacks": [callback]})
    run.end()

    record = labbook.get_run(run.uuid)
    [chat_trace] = record.events("span", "RunnableSequence")
    model = chat_trace.value["children"][1]
    assert (model["name"], model["kind"]) == ("FakeListChatModel", "llm")
    assert chat_trace.value["outputs"]["output"]["kwargs"]["content"] == "4"
    [tool_trace] = record.events("span", "add")
    assert tool_trace.value["kind"] == "tool"
    assert tool_trace.value["inputs"] == {"a": 1, "b": 2} and tool_trace.value["outputs"] == {"output": 3}
    [failed] = record.events("span", "boom")
    assert failed.value["status"] == "failed"
    assert "no answer" in failed.value["status_conditions"][0]["message"]
