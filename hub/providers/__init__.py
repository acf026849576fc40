"""Clients of the external services (one module each), sharing the rate limiter."""
