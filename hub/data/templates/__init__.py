"""Shipped message templates (a package so they install with the wheel)."""
