"""Placeholders in shipped blueprints, filled in by ``hub scenarios render``.

The syntax ``__HUB_NAME__`` cannot clash with Make's own ``{{...}}`` mapping syntax, and is
still a valid value wherever it sits, so an unrendered blueprint imports into Make (its URLs
simply do not work yet).
"""

from __future__ import annotations

import re

# Every hub URL a Make scenario calls contains this path (webhooks.make.PATH).
HUB_PATH = "/webhooks/make/"

PLACEHOLDER = re.compile(r"__HUB_[A-Z][A-Z0-9_]*__")

# __HUB_URL_DISCOVER__ -> {hub}/webhooks/make/{token for "discover"}; one per Make action.
ACTION_URL_PREFIX = "__HUB_URL_"
DATAFORSEO_POSTBACK_URL = "__HUB_DATAFORSEO_POSTBACK_URL__"
DATAFORSEO_PINGBACK_URL = "__HUB_DATAFORSEO_PINGBACK_URL__"


def action_marker(action: str) -> str:
    return f"{ACTION_URL_PREFIX}{action.upper()}__"


def find_placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)
