"""The Gemini drafter, through ``google-genai`` (the deprecated ``google-generativeai`` is not used).

One ``generateContent`` call per row with ``responseMimeType=application/json`` and a
``{subject, body}`` schema. What comes back decides the row's fate:

- a blocked prompt (``promptFeedback.blockReason``, no candidates) or a safety-type
  ``finishReason`` -> ``REVIEW:gemini_blocked <reason>``;
- text that is not the requested JSON, or cut at ``MAX_TOKENS`` -> ``REVIEW:bad_output``;
- a subject with CR/LF -> ``REVIEW:bad_subject`` (:func:`hub.drafting.rules.check_draft`);
- 429 ``RESOURCE_EXHAUSTED`` -> retried honouring ``RetryInfo.retryDelay``; still refused (or a
  per-day quota, where waiting minutes cannot help) -> ``HELD:gemini_quota``;
- 400 ``API_KEY_INVALID`` / 401 / 403 -> the job fails naming GEMINI_API_KEY; 404 -> GEMINI_MODEL;
- 5xx and network errors -> retried with backoff and jitter, then a ``ProviderError`` that the
  draft stage turns into ``last_error`` for that row only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from hub.config import Settings
from hub.drafting import rules
from hub.drafting.base import Draft, Drafter, DraftRefused
from hub.drafting.prompt import PromptTemplate
from hub.drafting.templates import first_subject
from hub.errors import ProviderError
from sheets.columns import Row

log = logging.getLogger(__name__)

RESPONSE_SCHEMA = {
    "type": "OBJECT",
    "properties": {"subject": {"type": "STRING"}, "body": {"type": "STRING"}},
    "required": ["subject", "body"],
}
# Finish reasons that mean "the model would not write this" rather than "it broke".
BLOCKING_FINISH = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE", "OTHER"}
)
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _transport_errors() -> tuple[type[Exception], ...]:
    # google-genai sends through httpx2 (a fork with its own exception classes) when it is
    # installed, which google-genai itself requires; plain httpx otherwise.
    found: list[type[Exception]] = [httpx.TransportError]
    try:
        import httpx2

        found.append(httpx2.TransportError)
    except ImportError:  # pragma: no cover - depends on the google-genai release
        pass
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()  # timeouts, resets, refused connections
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")  # protobuf Duration JSON, e.g. "28s"


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _details(exc: genai_errors.APIError) -> list[dict]:
    body = exc.details if isinstance(exc.details, dict) else {}
    found = (body.get("error") or body).get("details") or []
    return [d for d in found if isinstance(d, dict)]


def retry_delay_seconds(exc: BaseException) -> float | None:
    """The wait the server asked for: ``google.rpc.RetryInfo.retryDelay`` or ``Retry-After``."""
    if not isinstance(exc, genai_errors.APIError):
        return None
    for detail in _details(exc):
        if detail.get("@type", "").endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    header = getattr(getattr(exc, "response", None), "headers", {}) or {}
    try:
        return float(header.get("retry-after", ""))
    except (TypeError, ValueError):
        return None


def is_daily_quota(exc: genai_errors.APIError) -> bool:
    """A per-day quota (``QuotaFailure`` ``quotaId`` ``...PerDay...``): no point waiting."""
    return exc.code == 429 and "PerDay" in json.dumps(_details(exc))


def _reason(exc: genai_errors.APIError) -> str:
    for detail in _details(exc):
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo") and detail.get("reason"):
            return str(detail["reason"])
    return exc.status or ""


class GeminiDrafter(Drafter):
    provider_name = "gemini"

    def __init__(
        self,
        settings: Settings,
        prompt: PromptTemplate,
        *,
        rate_per_second: float = 10.0,
        max_attempts: int = 4,
        max_retry_wait: float = 60.0,
        backoff_initial: float = 1.0,
        timeout_seconds: float = 60.0,
    ):
        self.settings = settings
        self.prompt = prompt
        self.model = settings.gemini_model
        self.rate_per_second = rate_per_second
        self.max_attempts = max_attempts
        self.max_retry_wait = max_retry_wait
        self.backoff_initial = backoff_initial
        self.timeout_seconds = timeout_seconds
        self.calls = 0  # generateContent requests made (attempts, retries included)
        # google-genai's async transport (httpx) and the limiter belong to one event loop;
        # a CLI run after a server run gets fresh ones.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: genai.Client | None = None
        self._limiter: AsyncLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> GeminiDrafter:
        return cls(settings, PromptTemplate.load(settings), **options)

    def _parts(self) -> tuple[genai.Client, AsyncLimiter]:
        loop = asyncio.get_running_loop()
        if self._client is None or self._limiter is None or self._loop is not loop:
            self.close()
            self._client = genai.Client(
                api_key=self.settings.gemini_api_key.get_secret_value(),
                http_options=types.HttpOptions(
                    base_url=self.settings.gemini_api_url,
                    api_version="v1beta",
                    timeout=int(self.timeout_seconds * 1000),  # milliseconds
                ),
            )
            # Gemini's limits are per minute and per plan; 10/s keeps bursts modest and a
            # 429 that still happens is retried below.
            self._limiter = AsyncLimiter(self.rate_per_second, 1.0)
            self._loop = loop
        return self._client, self._limiter

    # --- retry policy --------------------------------------------------------------------------
    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, genai_errors.APIError):
            if exc.code not in RETRYABLE_STATUS or is_daily_quota(exc):
                return False
            hint = retry_delay_seconds(exc)
            return hint is None or hint <= self.max_retry_wait
        return isinstance(exc, TRANSPORT_ERRORS)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = retry_delay_seconds(exc) if exc else None
        if hint is not None:
            return min(hint + random.uniform(0, max(0.05, hint * 0.1)), self.max_retry_wait)
        backoff = self.backoff_initial * 2 ** (state.attempt_number - 1)
        return min(backoff + random.uniform(0, self.backoff_initial), self.max_retry_wait)

    async def _generate(self, prompt: str) -> types.GenerateContentResponse:
        client, limiter = self._parts()
        config = types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=RESPONSE_SCHEMA
        )
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            retry=retry_if_exception(self._retryable),
            wait=self._wait,
            reraise=True,
        ):
            with attempt:
                async with limiter:
                    self.calls += 1
                    return await client.aio.models.generate_content(
                        model=self.model, contents=prompt, config=config
                    )
        raise AssertionError("unreachable: tenacity reraises the last error")

    # --- one row -------------------------------------------------------------------------------
    async def draft(self, row: Row, *, step: int = 0) -> Draft | DraftRefused:
        prompt = self.prompt.render(row, self.settings, step=step)
        try:
            response = await self._generate(prompt)
        except genai_errors.APIError as exc:
            return self._refusal_for(exc)
        except TRANSPORT_ERRORS as exc:
            raise ProviderError("gemini", f"network error: {type(exc).__name__}") from exc
        outcome = self._read(response)
        if isinstance(outcome, Draft) and step >= 1 and first_subject(row):
            # A follow-up replies in the first message's thread: same subject, one "Re:".
            outcome = Draft(subject=f"Re: {first_subject(row)}", body=outcome.body)
        return rules.check_draft(outcome) if isinstance(outcome, Draft) else outcome

    def _refusal_for(self, exc: genai_errors.APIError) -> DraftRefused:
        code, reason = exc.code, _reason(exc)
        # Never exc.details in a message: Google's DebugInfo may echo the key.
        if reason == "API_KEY_INVALID" or code in (401, 403):
            raise rules.DrafterMisconfigured(
                "gemini",
                f"the API key was refused ({code} {reason or exc.status}): set a valid GEMINI_API_KEY",
                provider_status=code,
                provider_code=reason or exc.status,
            ) from None
        if code == 404:
            raise rules.DrafterMisconfigured(
                "gemini",
                f"model {self.model!r} is not available for generateContent (404 NOT_FOUND): "
                "set GEMINI_MODEL to a model your key can use, e.g. gemini-2.5-flash",
                provider_status=404,
                provider_code=exc.status,
            ) from None
        if code == 429:
            log.warning("gemini quota used up (%s); holding rows", reason)
            return DraftRefused(rules.GEMINI_QUOTA)
        raise ProviderError(
            "gemini",
            f"{code} {exc.status or ''}: {(exc.message or '')[:200]}".strip(),
            provider_status=code,
            provider_code=reason or exc.status,
        ) from None

    def _read(self, response: types.GenerateContentResponse) -> Draft | DraftRefused:
        if not response.candidates:
            feedback = response.prompt_feedback
            reason = _enum_text(feedback.block_reason) if feedback else ""
            return DraftRefused(f"{rules.GEMINI_BLOCKED} {reason or 'no_candidates'}")
        candidate = response.candidates[0]
        finish = _enum_text(candidate.finish_reason)
        if finish in BLOCKING_FINISH:
            return DraftRefused(f"{rules.GEMINI_BLOCKED} {finish}")
        if finish == "MAX_TOKENS":
            return DraftRefused(f"{rules.BAD_OUTPUT} cut short (MAX_TOKENS)")
        parts = (candidate.content.parts if candidate.content else None) or []
        # Thinking models (2.5) may return a thought summary part first: it is not the answer.
        text = "".join(p.text for p in parts if p.text and not p.thought)
        try:
            data = json.loads(text)
        except ValueError:
            return DraftRefused(f"{rules.BAD_OUTPUT} not JSON")
        if not (
            isinstance(data, dict)
            and isinstance(data.get("subject"), str)
            and isinstance(data.get("body"), str)
        ):
            return DraftRefused(f"{rules.BAD_OUTPUT} JSON without string subject and body")
        return Draft(subject=data["subject"], body=data["body"])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
