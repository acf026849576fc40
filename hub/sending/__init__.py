"""Sending exactly once: messages, the durable ledger, limits, suppression, reconciliation.

Entry points: :func:`hub.sending.runner.run_send` (the send job),
:func:`hub.sending.followups.run_followups` (the follow-up job) and
:func:`hub.sending.send_one.send_one` (``POST /api/prospects/{id}/send``).
"""
