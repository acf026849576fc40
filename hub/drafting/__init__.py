"""Drafting a first message or a follow-up: Gemini (real) or templates (embedded default)."""
