"""Provider adapters against loopback servers that speak the real protocols (no API key needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_memory.llm.anthropic import AnthropicClient
from nexus_memory.llm.base import (
    GenerateParams,
    LLMError,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    system_user,
)
from nexus_memory.llm.factory import make_chain
from nexus_memory.llm.fallback import FallbackClient
from nexus_memory.llm.gateway import LLMGateway
from nexus_memory.llm.jsonparse import JSONParseError, parse_json_object
from nexus_memory.llm.ledger import TokenLedger
from nexus_memory.llm.openai_compat import OpenAICompatClient
from tests.llm.loopback import Reply, anthropic_ok, openai_ok, serve

PARAMS: GenerateParams = system_user("be brief", "hello", max_tokens=64)


def test_openai_round_trip_sends_the_protocol() -> None:
    with serve() as (url, script):
        script.add(openai_ok('{"ok": true}'))
        client = OpenAICompatClient(base_url=url + "/v1", model="gpt-test", api_key="sk-test")
        resp = client.generate(PARAMS)
    assert resp.content == '{"ok": true}' and resp.usage.prompt_tokens == 11 and resp.usage.completion_tokens == 7
    req = script.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test"
    assert req["body"]["messages"][0] == {"role": "system", "content": "be brief"}
    assert req["body"]["response_format"] == {"type": "json_object"} and req["body"]["max_tokens"] == 64


def test_anthropic_round_trip_sends_the_protocol() -> None:
    with serve() as (url, script):
        script.add(anthropic_ok('{"ok": 1}'))
        client = AnthropicClient(base_url=url, model="claude-test", api_key="ak-test")
        resp = client.generate(PARAMS)
    assert resp.content == '{"ok": 1}' and resp.usage.total == 18
    req = script.requests[0]
    assert req["path"] == "/v1/messages"
    assert req["headers"]["x-api-key"] == "ak-test" and req["headers"]["anthropic-version"] == "2023-06-01"
    assert req["body"]["system"].startswith("be brief") and req["body"]["messages"] == [
        {"role": "user", "content": "hello"}]


def test_openai_streaming_and_a_streamed_error() -> None:
    chunks = [(None, {"model": "gpt-s", "choices": [{"delta": {"content": '{"a"'}}]}),
              (None, {"choices": [{"delta": {"content": ": 1}"}}]}),
              (None, {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
              (None, "[DONE]")]
    with serve() as (url, script):
        script.add(Reply(sse=chunks),
                   Reply(sse=[(None, {"choices": [{"delta": {"content": "{"}}]}),
                              (None, {"error": {"type": "rate_limit_exceeded", "message": "slow down"}})]))
        client = OpenAICompatClient(base_url=url, model="gpt-s", api_key=None)
        stream = GenerateParams(PARAMS.messages, stream=True)
        resp = client.generate(stream)
        assert resp.content == '{"a": 1}' and resp.usage.total == 7
        with pytest.raises(RateLimited, match="slow down"):
            client.generate(stream)
    assert script.requests[0]["body"]["stream"] is True


def test_anthropic_streaming_and_overloaded_error_event() -> None:
    events = [("message_start", {"type": "message_start", "message": {"model": "c", "usage": {"input_tokens": 9}}}),
              ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}}),
              ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 2}}),
              ("message_stop", {"type": "message_stop"})]
    with serve() as (url, script):
        script.add(Reply(sse=events),
                   Reply(sse=[("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                      "message": "Overloaded"}})]))
        client = AnthropicClient(base_url=url, model="c", api_key="k")
        stream = GenerateParams(PARAMS.messages, stream=True)
        resp = client.generate(stream)
        assert resp.content == "hi" and resp.usage.prompt_tokens == 9 and resp.usage.completion_tokens == 2
        with pytest.raises(ProviderUnavailable, match="Overloaded"):
            client.generate(stream)


@pytest.mark.parametrize(("reply", "error"), [
    (Reply(429, {"error": {"type": "rate_limit_error", "message": "Rate limit reached"}}), RateLimited),
    (Reply(429, {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota"}}),
     QuotaExceeded),
    (Reply(402, {"error": {"message": "payment required"}}), QuotaExceeded),
    (Reply(503, {"error": {"message": "down"}}), ProviderUnavailable),
    (Reply(401, {"error": {"message": "bad key"}}), LLMError),
])
def test_http_errors_are_classified(reply: Reply, error: type[LLMError]) -> None:
    with serve() as (url, script):
        script.add(reply)
        client = OpenAICompatClient(base_url=url, model="m", api_key="k")
        with pytest.raises(error) as info:
            client.generate(PARAMS)
    assert type(info.value) is error


def test_connection_refused_is_unavailable() -> None:
    client = OpenAICompatClient(base_url="http://127.0.0.1:9", model="m", api_key=None, timeout=2)
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        client.generate(PARAMS)


def test_fallback_chain_moves_on_after_rate_limit_but_not_after_a_bad_request() -> None:
    with serve() as (url_a, a), serve() as (url_b, b):
        a.add(Reply(429, {"error": {"message": "Rate limit reached"}}), Reply(400, {"error": {"message": "bad"}}))
        b.add(anthropic_ok('{"from": "b"}'))
        chain = FallbackClient([OpenAICompatClient(base_url=url_a, model="m1", api_key="k", provider="groq"),
                                AnthropicClient(base_url=url_b, model="m2", api_key="k")])
        resp = chain.generate(PARAMS)
        assert resp.content == '{"from": "b"}' and resp.provider == "anthropic"
        assert "groq/m1" in chain.last_errors[0]
        with pytest.raises(LLMError, match="bad"):
            chain.generate(PARAMS)
        assert len(b.requests) == 1


def test_factory_builds_the_chain_from_settings_values() -> None:
    env = {"NEXUS_LLM_FALLBACK_1_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "x", "OPENAI_API_KEY": "y"}
    chain = make_chain("openai", model=None, base_url=None, api_key_env=None, env=env)
    assert isinstance(chain, FallbackClient) and [c.provider for c in chain.clients] == ["openai", "anthropic"]
    assert make_chain("none", model=None, base_url=None, api_key_env=None, env={}) is None
    from nexus_memory.errors import ConfigError

    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        make_chain("openai", model=None, base_url=None, api_key_env=None, env={})


def test_tolerant_json_parsing() -> None:
    fenced = 'Sure!\n```json\n{"accepted_memories": [{"memory": "x", "store": true},]}\n```'
    value = parse_json_object(fenced)
    assert value == {"memories": [{"memory_text": "x", "store": True}]}
    assert parse_json_object('noise {"short": "s", "long_digest": "l"} trailing') == {"short": "s", "long": "l"}
    with pytest.raises(JSONParseError):
        parse_json_object("no json here")


def test_gateway_budget_ledger_and_fallback(tmp_path: Path) -> None:
    with serve() as (url, script):
        script.add(openai_ok('{"short": "a"}', prompt=40, completion=20, model="gpt-4o-mini"), openai_ok("not json at all"))
        ledger = TokenLedger(tmp_path / "ledger.json", daily_budget=400)
        gw = LLMGateway(OpenAICompatClient(base_url=url, model="gpt-4o-mini", api_key="k"), ledger)
        assert gw.complete_json("digest", "sys", "user", max_tokens=100, job_id=7) == {"short": "a"}
        assert ledger.totals().tokens == 60 and ledger.by_job(7)[0]["cost_usd"] is not None
        assert gw.complete_json("digest", "sys", "user", max_tokens=100) is None  # unusable JSON
        assert ledger.totals().fallbacks == 1
        # The next call would not fit in what is left: no request is made at all.
        before = len(script.requests)
        assert gw.complete_json("digest", "sys", "user", max_tokens=400) is None
        assert len(script.requests) == before
        status = gw.status()
        assert status.spent_today > 0 and "tokens" in status.summary()
    ledger2 = TokenLedger(tmp_path / "spent.json", daily_budget=10)
    ledger2.record(stage="x", job_id=None, provider="p", model="m", prompt_tokens=10, completion_tokens=1)
    gw2 = LLMGateway(OpenAICompatClient(base_url="http://127.0.0.1:9", model="m", api_key=None), ledger2)
    st = gw2.status()
    assert st.exhausted and "daily token budget spent" in st.summary()


def test_ledger_is_bounded(tmp_path: Path) -> None:
    ledger = TokenLedger(tmp_path / "l.json", daily_budget=10**9)
    for _ in range(520):
        ledger.record(stage="s", job_id=None, provider="p", model="m", prompt_tokens=1, completion_tokens=1)
    assert len(ledger.calls(10_000)) == 500 and ledger.totals().calls == 520
