"""The embedded default model loads and answers schema-valid JSON; the model path can be overridden."""

import json
import shutil

import jsonschema
import pytest

from agents.llm import LlamaCppBackend, default_model_path

SCHEMA = {"type": "object", "properties": {"tool": {"type": "string", "enum": ["freeze_te", "override_te"]},
                                           "risk": {"type": "string", "enum": ["low", "medium", "high"]}},
          "required": ["tool", "risk"]}


def _one_call(backend):
    out = backend.complete([{"role": "user", "content": "B2 is overloaded. Pick a mitigation as JSON."}],
                           schema=SCHEMA, max_tokens=40)
    jsonschema.validate(json.loads(out.text), SCHEMA)
    assert out.completion_tokens > 0


def test_default_model_is_shipped_in_the_wheel():
    path = default_model_path()
    assert path.suffix == ".gguf" and path.is_file()


def test_default_model_answers_schema_valid_json():
    _one_call(LlamaCppBackend(n_ctx=512))


def test_model_path_from_environment(tmp_path, monkeypatch):
    copy = tmp_path / "other-model.gguf"
    shutil.copy(default_model_path(), copy)
    monkeypatch.setenv("TWIN_LLM_MODEL", str(copy))
    backend = LlamaCppBackend(n_ctx=512)
    assert backend.model_path == copy
    _one_call(backend)


def test_missing_model_path_is_a_clear_error(monkeypatch):
    from twin.errors import AgentError

    monkeypatch.setenv("TWIN_LLM_MODEL", "/nowhere/model.gguf")
    with pytest.raises(AgentError, match="model file not found"):
        LlamaCppBackend()
