"""DataForSEO SERP callbacks: ``POST .../postback/{token}`` and ``GET .../pingback/{token}``.

DataForSEO signs nothing, so the capability token in the URL is the authentication: it is
``tokens.sign({"j": job_id}, keys, DATAFORSEO_SALT)``, bound to the discovery job that posted the
task. DataForSEO replaces ``$id`` and ``$tag`` in the URL with the task id and the URL-encoded
tag; the ``id`` must name a task of the body. The postback body is the ``task_get`` JSON,
gzip-compressed; no ``Content-Encoding`` header is documented, so gzip is detected by its magic
bytes ``1f 8b`` and decompressed incrementally under a cap (a gzip bomb is refused with 413).

DataForSEO drops the connection after 10 s and does not retry: we only verify and hand over;
the hub persists the event and processes it later (lost callbacks are recovered by the hub
through ``tasks_ready``).

Tasks a Make.com scenario posts itself carry a token for a job id in the ``make-dfs:<label>``
namespace (:func:`make_callback_job`; ``hub scenarios render`` mints it): the hub never saw those
tasks, so it opens a discovery job for each on first sight (``hub.discovery.from_make``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from webhooks.base import Refusal, WebhookConfig, parse_json, read_body, require_keys
from webhooks.events import DATAFORSEO_ACTION, DATAFORSEO_WINDOW_SECONDS, InboundEvent
from webhooks.tokens import DATAFORSEO_SALT, TokenError, sign, verify

POSTBACK_ROUTE = "dataforseo_postback"
PINGBACK_ROUTE = "dataforseo_pingback"
POSTBACK_PATH = "/webhooks/dataforseo/postback/{token}"
PINGBACK_PATH = "/webhooks/dataforseo/pingback/{token}"

GZIP_MAGIC = b"\x1f\x8b"
_GUNZIP_STEP = 256 * 1024
# Task ids look like "11151456-0696-0066-0000-002a5915da37"; stay a little permissive.
_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_TAG = 255  # DataForSEO's own limit on `tag`


# Job ids in callback tokens for tasks that Make.com posts (not the hub). "make" alone is what
# `hub scenarios render` put in tokens before the namespace existed: read as "make-dfs:make".
MAKE_JOB_PREFIX = "make-dfs:"
LEGACY_MAKE_JOB = "make"
_MAKE_LABEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def make_callback_job(label: str) -> str:
    """The token job id for Make-posted tasks labelled ``label`` (already namespaced: kept)."""
    label = label.strip()
    if label.startswith(MAKE_JOB_PREFIX):
        label = label[len(MAKE_JOB_PREFIX) :]
    if not _MAKE_LABEL.fullmatch(label):
        raise ValueError(
            f"{label!r} is not a label for Make-posted DataForSEO tasks: use 1-64 letters, "
            "digits, '.', '_' or '-'"
        )
    return MAKE_JOB_PREFIX + label


def canonical_make_job(job_id: str) -> str | None:
    """The canonical ``make-dfs:<label>`` when a token's job id grants Make-posted tasks."""
    if job_id == LEGACY_MAKE_JOB:
        return MAKE_JOB_PREFIX + LEGACY_MAKE_JOB
    if job_id.startswith(MAKE_JOB_PREFIX) and _MAKE_LABEL.fullmatch(job_id[len(MAKE_JOB_PREFIX) :]):
        return job_id
    return None


@dataclass(frozen=True)
class CallbackUrls:
    postback_url: str
    pingback_url: str


def dataforseo_callback_token(job_id: str, secret_keys: Sequence[str]) -> str:
    return sign({"j": job_id}, secret_keys, DATAFORSEO_SALT)


def dataforseo_callback_urls(
    base_url: str, job_id: str, secret_keys: Sequence[str]
) -> CallbackUrls:
    """URLs for ``task_post``'s ``postback_url``/``pingback_url``; ``$id``/``$tag`` stay literal."""
    token = dataforseo_callback_token(job_id, secret_keys)
    root = base_url.rstrip("/")
    query = "?id=$id&tag=$tag"
    return CallbackUrls(
        postback_url=root + POSTBACK_PATH.format(token=token) + query,
        pingback_url=root + PINGBACK_PATH.format(token=token) + query,
    )


def job_for_token(token: str, secret_keys: Sequence[str]) -> str:
    try:
        data = verify(token, secret_keys, DATAFORSEO_SALT)
    except TokenError as exc:
        raise Refusal(
            401,
            "invalid_token",
            "the token in this callback URL is not valid (forged, truncated, or made with a key "
            "that was removed); recover the task's results with task_get",
            action=DATAFORSEO_ACTION,
        ) from exc
    job_id = data.get("j") if isinstance(data, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise Refusal(
            401,
            "invalid_token",
            "the callback token names no discovery job",
            action=DATAFORSEO_ACTION,
        )
    return job_id


def task_query(request: Request) -> tuple[str, str | None]:
    """The ``id`` and ``tag`` DataForSEO substituted into the URL."""
    task_id = request.query_params.get("id", "").strip()
    if not task_id or task_id == "$id":
        raise Refusal(
            400,
            "missing_task_id",
            "the id query parameter is missing: the callback URL must end with ?id=$id&tag=$tag",
            action=DATAFORSEO_ACTION,
        )
    if not _TASK_ID.fullmatch(task_id):
        raise Refusal(
            400,
            "bad_task_id",
            "the id query parameter is not a DataForSEO task id",
            action=DATAFORSEO_ACTION,
        )
    tag = request.query_params.get("tag", "").strip()
    if tag == "$tag":
        tag = ""  # the task was posted without a tag
    if len(tag) > _MAX_TAG:
        raise Refusal(
            400,
            "bad_tag",
            f"the tag query parameter is longer than {_MAX_TAG} characters",
            action=DATAFORSEO_ACTION,
        )
    return task_id, tag or None


def gunzip_capped(data: bytes, limit: int) -> bytes:
    """Decompress gzip (one or more members) without ever holding more than ``limit`` bytes."""
    out = bytearray()
    pending = data
    while pending:
        if pending[:2] != GZIP_MAGIC:
            raise Refusal(
                400,
                "invalid_gzip",
                "the gzip body has trailing bytes that are not gzip",
                action=DATAFORSEO_ACTION,
            )
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
        try:
            while not inflater.eof:
                chunk = inflater.decompress(pending, _GUNZIP_STEP)
                pending = inflater.unconsumed_tail
                if not chunk and not pending:
                    raise Refusal(
                        400, "invalid_gzip", "the gzip body is truncated", action=DATAFORSEO_ACTION
                    )
                out += chunk
                if len(out) > limit:
                    raise Refusal(
                        413,
                        "body_too_large",
                        f"the decompressed body is larger than {limit} bytes; "
                        "ask for fewer results per task (depth)",
                        action=DATAFORSEO_ACTION,
                    )
        except zlib.error as exc:
            raise Refusal(
                400,
                "invalid_gzip",
                "the body starts like gzip but is not valid gzip",
                action=DATAFORSEO_ACTION,
            ) from exc
        pending = inflater.unused_data
    return bytes(out)


def check_task_get_shape(data: Any, task_id: str) -> dict[str, Any]:
    """The body must look like ``task_get`` (``tasks`` list of objects with ``id``) and hold the task."""
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise Refusal(
            422,
            "invalid_payload",
            "the body is not a task_get response: expected an object with a 'tasks' list",
            action=DATAFORSEO_ACTION,
        )
    ids = []
    for index, task in enumerate(data["tasks"]):
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise Refusal(
                422,
                "invalid_payload",
                f"tasks[{index}] has no string 'id'",
                action=DATAFORSEO_ACTION,
            )
        ids.append(task["id"])
    if task_id not in ids:
        raise Refusal(
            422,
            "task_mismatch",
            f"no task in the body has the id {task_id} given in the URL",
            action=DATAFORSEO_ACTION,
        )
    return data


def to_event(
    source: str,
    payload: dict[str, Any],
    job_id: str,
    task_id: str,
    tag: str | None,
    config: WebhookConfig,
) -> InboundEvent:
    return InboundEvent(
        source=source,
        action=DATAFORSEO_ACTION,
        payload=payload,
        dedupe_key=f"dfs:{task_id}",
        dedupe_window_seconds=DATAFORSEO_WINDOW_SECONDS,
        received_at=config.now(),
        job_id=job_id,
        task_id=task_id,
        tag=tag,
    )


def postback_builder(config: WebhookConfig):
    async def build(request: Request) -> InboundEvent:
        job_id = job_for_token(
            request.path_params["token"],
            require_keys(list(config.secret_keys()), action=DATAFORSEO_ACTION),
        )
        task_id, tag = task_query(request)
        body = await read_body(request, config.max_body_bytes, action=DATAFORSEO_ACTION)
        if body[:2] == GZIP_MAGIC:
            body = gunzip_capped(body, config.max_decompressed_bytes)
        if not body.strip():
            raise Refusal(
                400,
                "empty_body",
                "the postback body is empty: expected task_get JSON",
                action=DATAFORSEO_ACTION,
            )
        payload = check_task_get_shape(parse_json(body, action=DATAFORSEO_ACTION), task_id)
        return to_event(POSTBACK_ROUTE, payload, job_id, task_id, tag, config)

    return build


def pingback_builder(config: WebhookConfig):
    async def build(request: Request) -> InboundEvent:
        if request.method != "GET":
            # Starlette answers HEAD on GET routes; a link checker's HEAD must not queue work.
            raise Refusal(
                405, "method_not_allowed", "the pingback is a GET", action=DATAFORSEO_ACTION
            )
        job_id = job_for_token(
            request.path_params["token"],
            require_keys(list(config.secret_keys()), action=DATAFORSEO_ACTION),
        )
        task_id, tag = task_query(request)
        return to_event(PINGBACK_ROUTE, {}, job_id, task_id, tag, config)

    return build
