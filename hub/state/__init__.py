"""The hub's durable state: jobs, the webhook inbox, the delivery log, the events outbox.

One module per concept; import names from the module that defines them.
"""
