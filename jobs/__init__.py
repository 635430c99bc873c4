"""RQ jobs and the roster sync engine: fetch → plan → apply, one school at a time."""
