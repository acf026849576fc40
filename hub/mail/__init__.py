"""Sending and reading mail: the mailer interface and its implementations."""
