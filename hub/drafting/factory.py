"""Pick the drafter from settings: Gemini when ``GEMINI_API_KEY`` is set, else templates."""

from __future__ import annotations

from hub.config import Settings
from hub.drafting.base import Drafter


def build_drafter(settings: Settings) -> Drafter:
    """Raises :class:`hub.config.ConfigError` naming the setting when a template or the
    prompt file is unusable, so the problem shows at start-up rather than row by row."""
    if settings.uses_gemini:
        from hub.drafting.gemini import GeminiDrafter

        return GeminiDrafter.from_settings(settings)
    from hub.drafting.templates import TemplateDrafter

    return TemplateDrafter(settings)
