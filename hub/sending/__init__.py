"""Sending exactly once: messages, the durable ledger, limits, suppression, reconciliation.

The stages that send are :mod:`hub.stages.send` (first messages, and a single row's send in
:mod:`hub.stages.send_one`) and :mod:`hub.stages.followup`; each message goes through the one
path here, :class:`hub.sending.path.SendPath`.
"""
