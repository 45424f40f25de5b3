"""Polyaxon's LangChain tracer path: ``from labbook.tracking.contrib.langchain import Callback``.

``Callback`` is ``labbook.integrations.langchain.Callback``.
"""

from labbook.integrations.langchain import Callback

__all__ = ["Callback"]
