from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets import TraitError

import llm_magics
from llm_magics.config import LlmMagics, get_config


def test_environment_variables_set_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MAGICS_DEVICE", "CPU")
    monkeypatch.setenv("LLM_MAGICS_DTYPE", "bf16")
    monkeypatch.setenv("LLM_MAGICS_CACHE", "/tmp/somewhere")
    monkeypatch.setenv("LLM_MAGICS_MEMORY_BUDGET", "cuda:0=20GiB, cpu=512MiB")
    monkeypatch.setenv("LLM_MAGICS_CHAT_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    monkeypatch.setenv("LLM_MAGICS_TRUST_REMOTE_CODE", "yes")
    monkeypatch.setenv("LLM_MAGICS_QUANTIZATION", "8bit")
    monkeypatch.setenv("LLM_MAGICS_DECODER", "Continuous")
    config = LlmMagics()
    assert config.quantization == "int8"
    assert config.decoder == "continuous"
    assert config.device == "cpu"
    assert config.dtype == "bfloat16"
    assert config.cache_dir == "/tmp/somewhere"
    assert config.memory_budget == {"cuda:0": 20 * 2**30, "cpu": 512 * 2**20}
    assert config.default_chat_model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert config.trust_remote_code is True


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "LLM_MAGICS_DEVICE",
        "LLM_MAGICS_DTYPE",
        "LLM_MAGICS_TRUST_REMOTE_CODE",
        "LLM_MAGICS_QUANTIZATION",
        "LLM_MAGICS_DECODER",
    ):
        monkeypatch.delenv(name, raising=False)
    config = LlmMagics()
    assert config.decoder == "auto"
    assert (config.device, config.dtype, config.trust_remote_code) == ("auto", "auto", False)
    assert config.quantization == "none"
    config.quantization = "int8"
    config.quantization = None  # the help's "None means 'none'", stored as the setting
    assert config.quantization == "none"
    assert config.default_chat_model == "default-chat"
    assert config.default_embed_model == "default-embed"


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("device", "gpu", "Choose one of auto, cpu, cuda, cuda:N, mps"),
        ("dtype", "int8", "Choose one of auto, float32, bfloat16, float16"),
        ("quantization", "int2", "Choose one of none, int8, int4"),
        ("decoder", "paged", "Choose one of auto, loop, continuous"),
        ("memory_budget", {"cpu": "lots"}, "Cannot read 'lots' as a memory size"),
        ("gpu_memory_fraction", 1.5, "must be in (0, 1]"),
        ("aliases", {"default-chat": "gpt2"}, "is built in and cannot be redefined"),
    ],
)
def test_bad_values_are_refused_with_the_choices(trait: str, value: object, message: str) -> None:
    config = LlmMagics()
    with pytest.raises(TraitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        setattr(config, trait, value)


def test_memory_budget_is_normalised_to_bytes() -> None:
    config = LlmMagics(memory_budget={"CUDA:0": "2GiB", "cpu": 1000})
    assert config.memory_budget == {"cuda:0": 2 * 2**30, "cpu": 1000}


def test_percent_config_sets_the_kernel_settings() -> None:
    shell = InteractiveShell.instance()
    llm_magics.load_ipython_extension(shell)
    llm_magics.load_ipython_extension(shell)  # loading twice registers once
    assert shell.configurables.count(get_config()) == 1
    before = get_config().hub_timeout
    try:
        shell.run_line_magic("config", "LlmMagics.hub_timeout = 1.25")
        assert get_config().hub_timeout == 1.25
    finally:
        get_config().hub_timeout = before


def test_a_misspelt_environment_variable_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_magics import config

    monkeypatch.setattr(config, "_checked", set())
    monkeypatch.setenv("LLM_MAGICS_CACHE_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("LLM_MAGICS_ZZZ", "1")
    with pytest.warns(llm_magics.LlmMagicsWarning) as caught:
        LlmMagics().cache_dir  # noqa: B018 - reading the default reads the environment
        LlmMagics().device  # noqa: B018 - a second read warns no more
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2, messages
    assert "LLM_MAGICS_CACHE_DIR is not an llm_magics setting" in messages[0]
    assert "Did you mean 'LLM_MAGICS_CACHE'?" in messages[0]
    assert "Did you mean" not in messages[1]
    assert all("llm_magics reads LLM_MAGICS_CACHE, LLM_MAGICS_CASCADE, " in m for m in messages)
    assert LlmMagics().cache_dir != "/tmp/elsewhere"
