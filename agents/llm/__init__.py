"""The local LLM OCE-helper: back-ends, the OCE gate, and the agents (on the diagnosis engine).

>>> from agents.llm import LLMAgent, ScriptedBackend
>>> agent = LLMAgent(backend=ScriptedBackend(["{}"]), trace_dir=None)
"""

from agents.llm.agent import LLMAgent, OneShotAgent
from agents.llm.backends import (Completion, LlamaCppBackend, LLMBackend, OpenAIBackend, ScriptedBackend,
                                 default_model_path, resolve_model_path)
from agents.llm.gate import AutoPolicy, Gate, InteractiveGate
from agents.llm.modules import Candidate
from agents.llm.trace import Trace

__all__ = ["LLMAgent", "OneShotAgent", "LLMBackend", "Completion", "LlamaCppBackend", "OpenAIBackend",
           "ScriptedBackend", "default_model_path", "resolve_model_path", "Gate", "AutoPolicy", "InteractiveGate",
           "Candidate", "Trace"]
