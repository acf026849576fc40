"""The Gemini emulator speaks the real wire format: the real google-genai client runs against it."""

from __future__ import annotations

import json

import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.emulators.gemini import GeminiEmulator
from tests.emulators.serve import serve_in_thread
from tests.fixtures import load_real

KEY = "test-gemini-key"
SCHEMA = {
    "type": "OBJECT",
    "properties": {"subject": {"type": "STRING"}, "body": {"type": "STRING"}},
    "required": ["subject", "body"],
}
FACTS_PROMPT = 'Facts:\n{"recipient": {"page_title": "Printmakers Journal", "domain": "pj.example", "contact_name": "Dana Reyes"}, "sender": {"sender_name": "Ada"}}'


_clients: list[genai.Client] = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _clients:
        _clients.pop().close()


def client(url: str, *, key: str = KEY, version: str = "v1beta") -> genai.Client:
    # genai.Client closes its HTTP client once garbage-collected, which a chained
    # client(...).models.generate_content(...) would trigger mid-call: keep each one alive
    # until the test ends.
    made = genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=url, api_version=version)
    )
    _clients.append(made)
    return made


def json_config(schema: dict = SCHEMA) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=schema
    )


def test_success_honours_the_schema_and_uses_prompt_facts(gemini):
    response = client(gemini.url).models.generate_content(
        model="gemini-2.5-flash", contents=FACTS_PROMPT, config=json_config()
    )
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.parsed == {
        "subject": "A note about Printmakers Journal",
        "body": "Hi Dana,\n\nI enjoyed Printmakers Journal on pj.example and thought my work "
        "might interest your readers.\n\nBest wishes,\nAda\n",
    }
    assert response.model_version == "gemini-2.5-flash"
    assert response.usage_metadata.total_token_count > 0
    # the same prompt gives the same answer (deterministic)
    again = client(gemini.url).models.generate_content(
        model="gemini-2.5-flash", contents=FACTS_PROMPT, config=json_config()
    )
    assert again.text == response.text


def test_other_schemas_get_exactly_their_properties(gemini):
    schema = {"type": "OBJECT", "properties": {"headline": {"type": "STRING"}}}
    response = client(gemini.url).models.generate_content(
        model="gemini-2.0-flash", contents=FACTS_PROMPT, config=json_config(schema)
    )
    assert set(json.loads(response.text)) == {"headline"}


def test_request_is_recorded_as_the_client_sent_it(gemini):
    client(gemini.url, version="v1").models.generate_content(
        model="gemini-2.5-flash",
        contents="hello there",
        config=types.GenerateContentConfig(temperature=0.5),
    )
    client(gemini.url).models.generate_content(
        model="gemini-2.5-flash", contents="json please", config=json_config()
    )
    first, second = gemini.requests
    assert (first.api_version, first.model, first.key_ok) == ("v1", "gemini-2.5-flash", True)
    assert first.prompt == "hello there"
    assert first.body["generationConfig"] == {"temperature": 0.5}
    config = second.body["generationConfig"]
    assert second.api_version == "v1beta"
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseSchema"]["properties"]) == {"subject", "body"}
    assert gemini.request_count == 2


@pytest.mark.google_refuses
def test_v1_has_no_json_mode_and_refuses_it_as_google_does(gemini):
    # v1's GenerationConfig has no responseMimeType/responseSchema (they are v1beta's): the
    # hub asks for v1beta. Google's words: Unknown name ... at 'generation_config'.
    with pytest.raises(genai_errors.ClientError) as caught:
        client(gemini.url, version="v1").models.generate_content(
            model="gemini-2.5-flash", contents="x", config=json_config()
        )
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert (
        "Unknown name \"responseMimeType\" at 'generation_config': Cannot find field."
        in caught.value.message
    )
    assert "google.ai.generativelanguage.v1 types" in caught.value.message  # the reason's source
    assert gemini.requests == []  # refused before the model saw it


def test_unknown_key_gets_the_recorded_api_key_invalid_error(gemini):
    with pytest.raises(genai_errors.ClientError) as caught:
        client(gemini.url, key="wrong").models.generate_content(
            model="gemini-2.5-flash", contents="x", config=json_config()
        )
    assert caught.value.code == 400
    assert caught.value.details == load_real("gemini_error_400_api_key_invalid.json")
    assert gemini.requests[0].key_ok is False


def test_unknown_model_gets_404_naming_model_and_version(gemini):
    with pytest.raises(genai_errors.ClientError) as caught:
        client(gemini.url).models.generate_content(
            model="gemini-9-ultra", contents="x", config=json_config()
        )
    assert caught.value.code == 404 and caught.value.status == "NOT_FOUND"
    assert "models/gemini-9-ultra is not found for API version v1beta" in caught.value.message


def test_scripted_answers_come_in_order_then_the_default(gemini):
    gemini.script("blocked", "feedback_only", "safety", "ok_thinking")
    c = client(gemini.url)

    def ask() -> types.GenerateContentResponse:
        return c.models.generate_content(
            model="gemini-2.5-flash", contents=FACTS_PROMPT, config=json_config()
        )

    blocked = ask()
    assert not blocked.candidates
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    feedback_only = ask()
    assert feedback_only.candidates == [] and feedback_only.prompt_feedback.block_reason is None
    safety = ask()
    assert safety.candidates[0].finish_reason == types.FinishReason.SAFETY
    thinking = ask()
    thought, answer = thinking.candidates[0].content.parts
    assert thought.thought is True and json.loads(answer.text)["subject"]
    assert json.loads(ask().text)["subject"] == "A note about Printmakers Journal"
    assert gemini.answers() == {
        "blocked": 1,
        "feedback_only": 1,
        "safety": 1,
        "ok_thinking": 1,
        "ok": 1,
    }


def test_quota_error_carries_retry_info_and_daily_quota_runs_out():
    gemini = GeminiEmulator(retry_delay="7s", daily_quota=1)
    with serve_in_thread(gemini.app) as server:
        c = client(server.url)
        c.models.generate_content(model="gemini-2.5-flash", contents="one", config=json_config())
        with pytest.raises(genai_errors.ClientError) as caught:
            c.models.generate_content(
                model="gemini-2.5-flash", contents="two", config=json_config()
            )
    error = caught.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    types_seen = {d["@type"].rsplit(".", 1)[-1]: d for d in error.details["error"]["details"]}
    assert types_seen["RetryInfo"]["retryDelay"] == "7s"
    assert "PerDay" in types_seen["QuotaFailure"]["violations"][0]["quotaId"]


def test_prompt_keyword_selects_the_answer(gemini):
    c = client(gemini.url)
    response = c.models.generate_content(
        model="gemini-2.5-flash",
        contents="snippet: gemini-emulator:bad_json",
        config=json_config(),
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    with pytest.raises(genai_errors.ServerError) as caught:
        c.models.generate_content(
            model="gemini-2.5-flash", contents="gemini-emulator:unavailable", config=json_config()
        )
    assert caught.value.code == 503


@pytest.mark.google_refuses
def test_malformed_body_is_a_400_invalid_argument(gemini):
    answer = httpx.post(
        f"{gemini.url}/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": KEY},
        content=b"{not json",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
