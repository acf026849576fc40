"""The hub's durable state: jobs, the webhook inbox, the delivery log, the queue of outbound
events (whose tables are still named ``outbox``/``outbox_attempts``: "outbox" is the dry-run mail
folder everywhere else).

One module per concept; import names from the module that defines them.
"""
