"""Durable jobs: the runner, the job types and their chaining, lease holders.

One module per concept; import names from the module that defines them.
"""
