"""Stages: one module per job type, all listed in :mod:`hub.stages.registry`."""
