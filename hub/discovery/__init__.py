"""Discovery: DataForSEO SERP tasks -> prospect rows (tasks, ingest, callbacks, sweep)."""
