"""A person acting on rows through the hub (API, status page, CLI): edits, approvals, history."""
