"""A Gemini API emulator (Starlette) that the real ``google-genai`` client runs against.

    gemini = GeminiEmulator()                       # key "test-gemini-key"
    with serve_in_thread(gemini.app) as server:     # settings.gemini_api_url = server.url
        gemini.script("quota", "ok")                # next two answers, then the default

Serves ``POST /{v1|v1beta}/models/{model}:generateContent`` with header ``x-goog-api-key``,
answering in the shapes of ``tests/fixtures/real/gemini_*.json`` (Google's own mock responses).
A success honours ``generationConfig.responseSchema``: the JSON text has exactly the schema's
string properties, generated deterministically from the facts found in the prompt (the first
JSON object in it), so a test can predict the draft.

Which answer a request gets, first match wins:

1. an unknown key -> 400 ``API_KEY_INVALID``; an unknown model -> 404 ``NOT_FOUND``;
2. the scripted queue (:meth:`script`), one entry per request;
3. ``daily_quota`` used up -> 429 with a per-day ``QuotaFailure``;
4. a prompt containing ``gemini-emulator:<kind>`` (e.g. in a row's snippet) -> that kind;
5. ``default`` ("ok").

Every request is recorded (:attr:`requests`, :attr:`prompts`) so a test can assert what was
sent, e.g. that only the row's facts reached the model.

Before any of that, a request with a valid key is checked against the API's own v1/v1beta
types, as google-ai-generativelanguage ships them (:data:`GEMINI_APIS`, built by
:func:`tests.emulators.gapic_discovery.from_gapic`): an unknown field or query parameter,
a wrong JSON type or a bad enum is Google's 400 ``INVALID_ARGUMENT``, and fails the test that
sent it (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from google.ai import generativelanguage_v1, generativelanguage_v1beta
from google.ai.generativelanguage_v1.services.generative_service.transports import (
    rest_base as v1_generative,
)
from google.ai.generativelanguage_v1.services.model_service.transports import (
    rest_base as v1_models,
)
from google.ai.generativelanguage_v1beta.services.generative_service.transports import (
    rest_base as v1beta_generative,
)
from google.ai.generativelanguage_v1beta.services.model_service.transports import (
    rest_base as v1beta_models,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.emulators.discovery_validator import (
    DiscoveryApi,
    RefusedRequest,
    error_body,
    query_pairs,
    standard_parameters,
)
from tests.emulators.gapic_discovery import from_gapic
from tests.fixtures import load_real

KINDS = (
    "ok",  # STOP with the JSON draft (gemini_generate_content_success.json)
    "ok_thinking",  # a thought part before the answer (..._success_thinking_2_5.json)
    "blocked",  # promptFeedback.blockReason=SAFETY, no candidates (..._prompt_blocked_safety)
    "feedback_only",  # candidates [] and a promptFeedback without blockReason (..._only_prompt_feedback)
    "safety",  # finishReason SAFETY with partial text (..._finish_reason_safety.json)
    "max_tokens",  # finishReason MAX_TOKENS, JSON cut short
    "bad_json",  # STOP, but prose instead of the requested JSON
    "crlf_subject",  # STOP, a subject that tries to smuggle a header line
    "quota",  # 429 RESOURCE_EXHAUSTED per minute, with a RetryInfo retryDelay
    "quota_daily",  # 429 RESOURCE_EXHAUSTED, per-day QuotaFailure (retrying will not help)
    "bad_key",  # 400 API_KEY_INVALID (gemini_error_400_api_key_invalid.json)
    "unknown_model",  # 404 NOT_FOUND (gemini_error_404_unknown_model.json)
    "server_error",  # 500 INTERNAL
    "unavailable",  # 503 UNAVAILABLE "model is overloaded"
    "slow",  # an "ok" answer after `latency` seconds (client timeouts)
)
TRIGGER = re.compile(r"gemini-emulator:([a-z_]+)")
FACT_KEYS = ("page_title", "domain", "contact_name", "snippet", "keyword", "contact_position")


@dataclass(frozen=True)
class GeminiRequest:
    api_version: str
    model: str
    key_ok: bool  # the key itself is never kept
    body: dict[str, Any]
    prompt: str
    answer: str


def _described(version: str, package, generative, models) -> DiscoveryApi:
    """The two methods the emulator serves, as the GAPIC client of ``version`` describes them."""
    return from_gapic(
        name="generativelanguage",
        version=version,
        clients={
            package.GenerativeServiceClient: (
                generative._BaseGenerativeServiceRestTransport,
                ["generate_content"],
            ),
            package.ModelServiceClient: (models._BaseModelServiceRestTransport, ["get_model"]),
        },
        standard_parameters=standard_parameters(),
    )


GEMINI_APIS = {
    "v1": _described("v1", generativelanguage_v1, v1_generative, v1_models),
    "v1beta": _described("v1beta", generativelanguage_v1beta, v1beta_generative, v1beta_models),
}


def _google_error(code: int, status: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


class GeminiEmulator:
    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = ("test-gemini-key",),
        models: tuple[str, ...] = ("gemini-2.5-flash", "gemini-2.0-flash", "gemini-2.5-pro"),
        retry_delay: str = "0.01s",
        daily_quota: int | None = None,
        default: str = "ok",
        latency: float = 2.0,
    ):
        self.api_keys = set(api_keys)
        self.models = set(models)
        self.retry_delay = retry_delay
        self.daily_quota = daily_quota
        self.default = default
        self.latency = latency
        self.requests: list[GeminiRequest] = []
        self._script: deque[str] = deque()
        self._served = 0  # requests that reached a valid key and model (count against quota)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route(
                    "/{version:str}/models/{model:str}:generateContent",
                    self._generate,
                    methods=["POST"],
                ),
                Route("/{version:str}/models/{model:str}", self._get_model, methods=["GET"]),
            ]
        )

    # --- test controls -----------------------------------------------------------------------
    def script(self, *answers: str) -> None:
        """Queue the next answers (kinds from :data:`KINDS`), one per request."""
        unknown = [a for a in answers if a not in KINDS]
        if unknown:
            raise ValueError(f"unknown answer kind(s) {unknown}; expected one of {KINDS}")
        with self._lock:
            self._script.extend(answers)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def prompts(self) -> list[str]:
        with self._lock:
            return [r.prompt for r in self.requests]

    def answers(self) -> Counter:
        with self._lock:
            return Counter(r.answer for r in self.requests)

    # --- the endpoint -------------------------------------------------------------------------
    def _refused(self, request: Request, key: str, body: bytes) -> JSONResponse | None:
        """Google's 400 for a request its API description refuses (checked once the key is
        known to be good, as Google checks the key first); None when it is valid."""
        api = GEMINI_APIS.get(request.path_params["version"])
        if api is None or key not in self.api_keys:
            return None
        routed = api.route(request.method, request.scope["raw_path"].decode("ascii"))
        if routed is None:
            return None
        try:
            api.check(routed, query_pairs(request.scope.get("query_string", b"")), body)
        except RefusedRequest as refused:
            return JSONResponse(error_body(refused), status_code=400)
        return None

    async def _generate(self, request: Request) -> JSONResponse:
        version = request.path_params["version"]
        model = request.path_params["model"]
        key = request.headers.get("x-goog-api-key", "")
        if (refused := self._refused(request, key, await request.body())) is not None:
            return refused
        try:
            body = json.loads(await request.body())
            prompt = "\n".join(
                part["text"]
                for content in body["contents"]
                for part in content["parts"]
                if "text" in part
            )
        except (ValueError, KeyError, TypeError):
            error = _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            return JSONResponse(error, status_code=400)
        with self._lock:
            answer = self._choose(version, model, key, prompt)
            self.requests.append(
                GeminiRequest(version, model, key in self.api_keys, body, prompt, answer)
            )
        if answer == "slow":
            await asyncio.sleep(self.latency)  # the emulator being slow, not a test waiting
        status, payload = self._answer(answer, version, model, body, prompt)
        return JSONResponse(payload, status_code=status)

    async def _get_model(self, request: Request) -> JSONResponse:
        """``models.get``: the model's description; no quota is spent (hub doctor uses it)."""
        version, model = request.path_params["version"], request.path_params["model"]
        key = request.headers.get("x-goog-api-key", "")
        if key not in self.api_keys:
            return JSONResponse(load_real("gemini_error_400_api_key_invalid.json"), 400)
        if (refused := self._refused(request, key, b"")) is not None:
            return refused
        if version not in ("v1", "v1beta") or model not in self.models:
            status, payload = self._answer("unknown_model", version, model, {}, "")
            return JSONResponse(payload, status_code=status)
        return JSONResponse(
            {
                "name": f"models/{model}",
                "version": model.split("-")[1] if "-" in model else "001",
                "displayName": model.replace("-", " ").title(),
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
                "temperature": 1.0,
                "topP": 0.95,
                "topK": 64,
            }
        )

    def _choose(self, version: str, model: str, key: str, prompt: str) -> str:
        if version not in ("v1", "v1beta"):
            return "unknown_model"
        if key not in self.api_keys:
            return "bad_key"
        if model not in self.models:
            return "unknown_model"
        self._served += 1
        if self._script:
            return self._script.popleft()
        if self.daily_quota is not None and self._served > self.daily_quota:
            return "quota_daily"
        found = TRIGGER.search(prompt)
        if found and found.group(1) in KINDS:
            return found.group(1)
        return self.default

    # --- answers in the recorded shapes ----------------------------------------------------------
    def _answer(
        self, kind: str, version: str, model: str, body: dict, prompt: str
    ) -> tuple[int, dict]:
        if kind == "bad_key":
            return 400, load_real("gemini_error_400_api_key_invalid.json")
        if kind == "unknown_model":
            error = load_real("gemini_error_404_unknown_model.json")
            text = (
                json.dumps(error).replace("gemini-5.0-flash", model).replace(" v1,", f" {version},")
            )
            return 404, json.loads(text)
        if kind in ("quota", "quota_daily"):
            return 429, self._quota_error(daily=kind == "quota_daily")
        if kind == "server_error":
            return 500, _google_error(500, "INTERNAL", "An internal error has occurred.")
        if kind == "unavailable":
            return 503, _google_error(
                503, "UNAVAILABLE", "The model is overloaded. Please try again later."
            )
        if kind == "blocked":
            return 200, load_real("gemini_generate_content_prompt_blocked_safety.json")
        if kind == "feedback_only":
            return 200, load_real("gemini_generate_content_only_prompt_feedback.json")
        if kind == "safety":
            return 200, load_real("gemini_generate_content_finish_reason_safety.json")
        return 200, self._success(kind, model, body, prompt)

    def _quota_error(self, *, daily: bool) -> dict:
        error = load_real("gemini_error_429_resource_exhausted.json")
        if daily:
            error["error"]["details"].append(
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                            "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                            "quotaValue": "250",
                        }
                    ],
                }
            )
        # Gemini's 429s carry google.rpc.RetryInfo (protobuf Duration JSON, e.g. "28s").
        error["error"]["details"].append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": self.retry_delay}
        )
        return error

    def _success(self, kind: str, model: str, body: dict, prompt: str) -> dict:
        config = body.get("generationConfig") or {}
        wants_json = config.get("responseMimeType") == "application/json"
        values = self._draft_values(prompt, config.get("responseSchema"))
        if kind == "crlf_subject" and "subject" in values:
            values["subject"] += "\r\nBcc: everyone@example.com"
        text = json.dumps(values, ensure_ascii=False) if wants_json else values.get("body", "")
        finish = "STOP"
        if kind == "bad_json":
            text = "Sure! Here is a friendly email you could send:\n\n" + values.get("body", "")
        elif kind == "max_tokens":
            text, finish = text[: max(1, len(text) // 2)], "MAX_TOKENS"
        if kind == "ok_thinking":
            response = load_real("gemini_generate_content_success_thinking_2_5.json")
            response["candidates"][0]["content"]["parts"][1]["text"] = text
        else:
            response = load_real("gemini_generate_content_success.json")
            response["candidates"][0]["content"]["parts"][0]["text"] = text
        response["candidates"][0]["finishReason"] = finish
        response["modelVersion"] = model
        response["responseId"] = hashlib.sha256(prompt.encode()).hexdigest()[:23]
        usage = response["usageMetadata"]
        usage["promptTokenCount"] = max(1, len(prompt) // 4)
        usage["candidatesTokenCount"] = max(1, len(text) // 4)
        usage["totalTokenCount"] = usage["promptTokenCount"] + usage["candidatesTokenCount"]
        return response

    @staticmethod
    def _draft_values(prompt: str, schema: dict | None) -> dict[str, str]:
        facts = facts_in(prompt)
        title = " ".join((facts.get("page_title") or facts.get("domain") or "your site").split())
        name = (facts.get("contact_name") or "").split()
        greeting = f"Hi {name[0]}," if name else "Hello,"
        sender = facts.get("sender_name") or "the artist"
        values = {
            "subject": f"A note about {title}",
            "body": (
                f"{greeting}\n\nI enjoyed {title} on {facts.get('domain', 'your site')} and "
                f"thought my work might interest your readers.\n\nBest wishes,\n{sender}\n"
            ),
        }
        properties = (schema or {}).get("properties") or {"subject": {}, "body": {}}
        return {key: values.get(key, f"{key} for {title}") for key in properties}


def facts_in(prompt: str) -> dict[str, str]:
    """The first JSON object in the prompt that carries row facts (flattened one level)."""
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", prompt)):
        try:
            value, _end = decoder.raw_decode(prompt, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            flat: dict[str, str] = {}
            for key, item in value.items():
                if isinstance(item, dict):
                    flat.update({k: str(v) for k, v in item.items()})
                else:
                    flat[key] = str(item)
            if any(key in flat for key in FACT_KEYS):
                return flat
    return {}
