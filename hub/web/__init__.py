"""The status page (issue 8): funnel, jobs with live progress, deliveries, limits, rows.

``hub.web.routes.routes(settings)`` gives the routes; the app factory mounts them.
"""
