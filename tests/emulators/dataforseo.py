"""DataForSEO v3 SERP emulator: task_post, tasks_ready, task_get, live — and real callbacks.

Shapes follow ``tests/fixtures/real/dataforseo_*.json``. Errors come the DataForSEO way: HTTP
200 with the code in ``status_code`` / ``tasks[].status_code`` (40006 more than 100 tasks,
40501 invalid field, 40203 spend limit, 40602 task in queue); bad credentials are 40100.

After ``task_post`` the tasks are finished at once (or when a test calls :meth:`complete`,
with ``auto_complete=False``) and their callbacks are actually delivered: the postback as an
HTTP POST of gzip-compressed ``task_get`` JSON (no Content-Encoding header: not documented),
the pingback as a GET, ``$id``/``$tag`` replaced. ``hold_callbacks = True`` loses them (the
hub must recover through ``tasks_ready``/``task_get``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import gzip
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fixtures import load_real

LOGIN, PASSWORD = "test-login", "test-password"
SERP = "/v3/serp/google/organic"


def organic(rank: int, domain: str, *, title: str = "", description: str = "", url: str = ""):
    """An organic item in DataForSEO's shape."""
    return {
        "type": "organic",
        "rank_group": rank,
        "rank_absolute": rank,
        "domain": domain,
        "title": title or f"{domain} page",
        "description": description or f"About {domain}",
        "url": url or f"https://{domain}/",
        "breadcrumb": f"https://{domain}",
    }


@dataclass
class EmulatedTask:
    id: str
    request: dict[str, Any]
    ready: bool = False
    collected: bool = False
    deliveries: list[tuple[str, int | str]] = field(default_factory=list)


def _envelope(tasks: list[dict[str, Any]], *, code: int = 20000, message: str = "Ok.") -> dict:
    return {
        "version": "0.1.20200129",
        "status_code": code,
        "status_message": message,
        "time": "0.0100 sec.",
        "cost": 0,
        "tasks_count": len(tasks),
        "tasks_error": sum(1 for t in tasks if t.get("status_code", 20000) >= 40000),
        "tasks": tasks,
    }


class DataForSEOEmulator:
    def __init__(self, *, login: str = LOGIN, password: str = PASSWORD, auto_complete=True):
        self.credentials = base64.b64encode(f"{login}:{password}".encode()).decode()
        self.auto_complete = auto_complete
        self.hold_callbacks = False
        self.serp: dict[str, list[dict[str, Any]]] = {}  # keyword -> items
        self.tasks: dict[str, EmulatedTask] = {}
        self.requests: Counter[str] = Counter()
        self.spend_limit_reached = False
        self.refused_keywords: set[str] = set()  # answered 40501, as for a keyword too long
        self.deliveries: list[tuple[str, str, int | str]] = []  # (kind, task id, status)
        self.login = login
        self.balance = 100.0  # USD left on the account, as appendix/user_data reports it
        self._template = load_real("dataforseo_serp_organic_task_get_regular.json")
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route(f"{SERP}/task_post", self.task_post, methods=["POST"]),
                Route(f"{SERP}/tasks_ready", self.tasks_ready),
                Route(f"{SERP}/task_get/{{kind}}/{{task_id}}", self.task_get),
                Route(f"{SERP}/live/{{kind}}", self.live, methods=["POST"]),
                Route("/v3/appendix/user_data", self.user_data),
            ]
        )

    # --- shapes ----------------------------------------------------------------------------
    def items_for(self, keyword: str) -> list[dict[str, Any]]:
        if keyword in self.serp:
            return copy.deepcopy(self.serp[keyword])
        return copy.deepcopy(self._template["tasks"][0]["result"][0]["items"])

    def task_answer(self, task: EmulatedTask, function: str = "task_get") -> dict[str, Any]:
        """One ``tasks[]`` entry of a task_get answer (as a postback delivers it)."""
        template = self._template["tasks"][0]
        request = task.request
        items = self.items_for(request["keyword"])
        depth = int(request.get("depth") or 100)
        organic_seen, kept = 0, []
        for item in items:
            if item.get("type") == "organic":
                organic_seen += 1
                if organic_seen > depth:
                    continue
            kept.append(item)
        result = copy.deepcopy(template["result"][0])
        result.update(keyword=request["keyword"], items=kept, items_count=len(kept))
        if "location_code" in request:
            result["location_code"] = request["location_code"]
        data = {
            "api": "serp",
            "function": function,
            "se": "google",
            "se_type": "organic",
            **{k: v for k, v in request.items() if k not in ("postback_url", "pingback_url")},
            "device": "desktop",
            "os": "windows",
        }
        return {
            **copy.deepcopy(template),
            "id": task.id,
            "path": ["v3", "serp", "google", "organic", function, "advanced", task.id],
            "data": data,
            "result": [result],
        }

    # --- auth ------------------------------------------------------------------------------
    def _refuse(self, request: Request, endpoint: str) -> JSONResponse | None:
        self.requests[endpoint] += 1
        header = request.headers.get("authorization", "")
        if header != f"Basic {self.credentials}":
            body = _envelope([], code=40100, message="You are not authorized to access this "
                             "resource. Please check your login and password.")  # fmt: skip
            return JSONResponse(body, status_code=401)
        if self.spend_limit_reached and endpoint in ("task_post", "live"):
            return JSONResponse(_envelope([], code=40203, message="Spend limit per day reached."))
        return None

    # --- endpoints -------------------------------------------------------------------------
    async def task_post(self, request: Request) -> JSONResponse:
        refused = self._refuse(request, "task_post")
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, list):
            return JSONResponse(_envelope([], code=40503, message="POST Data Is Invalid."))
        if len(body) > 100:
            return JSONResponse(
                _envelope([], code=40006, message="You can set only 100 tasks at a time.")
            )
        answered, created = [], []
        for raw in body:
            problem = _invalid_field(raw)
            if isinstance(raw, dict) and raw.get("keyword") in self.refused_keywords:
                problem = "keyword"
            task_id = _task_id()
            entry = {
                "id": task_id,
                "status_code": 40501 if problem else 20100,
                "status_message": f"Invalid Field: '{problem}'." if problem else "Task Created.",
                "time": "0.0040 sec.",
                "cost": 0 if problem else 0.0015,
                "result_count": 0,
                "path": ["v3", "serp", "google", "organic", "task_post"],
                "data": {"api": "serp", "function": "task_post", "se": "google",
                         "se_type": "organic", **(raw if isinstance(raw, dict) else {})},
                "result": None,
            }  # fmt: skip
            answered.append(entry)
            if not problem:
                task = EmulatedTask(id=task_id, request=dict(raw))
                with self._lock:
                    self.tasks[task_id] = task
                created.append(task)
        background = None
        if self.auto_complete and created:
            background = BackgroundTask(self.complete, [t.id for t in created])
        return JSONResponse(_envelope(answered), background=background)

    async def tasks_ready(self, request: Request) -> JSONResponse:
        refused = self._refuse(request, "tasks_ready")
        if refused is not None:
            return refused
        ready = [
            {
                "id": t.id,
                "se": "google",
                "se_type": "organic",
                "date_posted": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +00:00"),
                "tag": t.request.get("tag"),
                "endpoint_regular": f"{SERP}/task_get/regular/{t.id}",
                "endpoint_advanced": f"{SERP}/task_get/advanced/{t.id}",
                "endpoint_html": f"{SERP}/task_get/html/{t.id}",
            }
            for t in list(self.tasks.values())
            if t.ready and not t.collected
        ][:1000]
        entry = {
            "id": _task_id(),
            "status_code": 20000,
            "status_message": "Ok.",
            "result_count": len(ready),
            "path": ["v3", "serp", "google", "organic", "tasks_ready"],
            "data": {
                "api": "serp",
                "function": "tasks_ready",
                "se": "google",
                "se_type": "organic",
            },
            "result": ready,
        }
        return JSONResponse(_envelope([entry]))

    async def task_get(self, request: Request) -> JSONResponse:
        refused = self._refuse(request, "task_get")
        if refused is not None:
            return refused
        task = self.tasks.get(request.path_params["task_id"])
        if task is None:
            entry = {"id": request.path_params["task_id"], "status_code": 40400,
                     "status_message": "Not Found.", "result": None}  # fmt: skip
            return JSONResponse(_envelope([entry]))
        if not task.ready:
            entry = {"id": task.id, "status_code": 40602, "status_message": "Task In Queue.",
                     "result": None}  # fmt: skip
            return JSONResponse(_envelope([entry]))
        task.collected = True
        return JSONResponse(_envelope([self.task_answer(task)]))

    async def live(self, request: Request) -> JSONResponse:
        refused = self._refuse(request, "live")
        if refused is not None:
            return refused
        body = json.loads(await request.body())
        if not isinstance(body, list) or len(body) != 1:
            return JSONResponse(
                _envelope([], code=40006, message="You can set only one task at a time.")
            )
        problem = _invalid_field(body[0])
        if problem:
            entry = {"id": _task_id(), "status_code": 40501,
                     "status_message": f"Invalid Field: '{problem}'.", "result": None}  # fmt: skip
            return JSONResponse(_envelope([entry]))
        task = EmulatedTask(id=_task_id(), request=dict(body[0]), ready=True, collected=True)
        return JSONResponse(_envelope([self.task_answer(task, "live")]))

    async def user_data(self, request: Request) -> JSONResponse:
        """``GET /v3/appendix/user_data``: the account's login, limits and money (free call)."""
        refused = self._refuse(request, "user_data")
        if refused is not None:
            return refused
        limits = {"day": {"serp": 100000}, "minute": {"serp": 2000}}
        result = {
            "login": self.login,
            "timezone": "UTC",
            "rates": {"limits": limits, "statistics": {"day": {}, "minute": {}}},
            "money": {
                "total": 100.0,
                "balance": self.balance,
                "limits": {"day": {"total": 0}, "minute": {"total": 0}},
                "statistics": {"day": {"total": 0}, "minute": {"total": 0}},
            },
            "price": {},
        }
        entry = {"id": _task_id(), "status_code": 20000, "status_message": "Ok.",
                 "path": ["v3", "appendix", "user_data"], "cost": 0, "result_count": 1,
                 "data": {"api": "appendix", "function": "user_data"}, "result": [result]}  # fmt: skip
        return JSONResponse(_envelope([entry]))

    # --- completion and callbacks -------------------------------------------------------------
    async def complete(self, task_ids: list[str] | None = None) -> None:
        """Finish tasks and (unless held) deliver their postbacks and pingbacks."""
        ids = task_ids if task_ids is not None else [t.id for t in self.tasks.values()]
        tasks = [self.tasks[i] for i in ids if not self.tasks[i].ready]
        for task in tasks:
            task.ready = True
        if self.hold_callbacks:
            return
        async with httpx.AsyncClient(timeout=10.0) as client:  # DataForSEO waits 10 s
            for task in tasks:
                await self._deliver(client, task)

    def complete_in_thread(self, task_ids: list[str] | None = None) -> None:
        asyncio.run(self.complete(task_ids))

    async def _deliver(self, client: httpx.AsyncClient, task: EmulatedTask) -> None:
        request = task.request
        tag = quote(str(request.get("tag") or ""), safe="")
        for kind in ("postback_url", "pingback_url"):
            url = request.get(kind)
            if not url:
                continue
            url = url.replace("$id", task.id).replace("$tag", tag)
            try:
                if kind == "postback_url":
                    body = gzip.compress(json.dumps(_envelope([self.task_answer(task)])).encode())
                    response = await client.post(
                        url, content=body, headers={"Content-Type": "application/json"}
                    )
                else:
                    response = await client.get(url)
                status: int | str = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            task.deliveries.append((kind, status))
            self.deliveries.append((kind, task.id, status))


def _task_id() -> str:
    now = datetime.now(UTC)
    return f"{now:%m%d%H%M}-1535-0066-0000-{uuid.uuid4().hex[:12]}"


def _invalid_field(task: Any) -> str:
    if not isinstance(task, dict):
        return "task"
    if not str(task.get("keyword") or "").strip():
        return "keyword"
    if not (
        task.get("location_code") or task.get("location_name") or task.get("location_coordinate")
    ):
        return "location_name"
    if not (task.get("language_code") or task.get("language_name")):
        return "language_name"
    if task.get("postback_url") and task.get("postback_data") not in (
        "regular",
        "advanced",
        "html",
    ):
        return "postback_data"
    if len(str(task.get("tag") or "")) > 255:
        return "tag"
    return ""
