"""The SFTP drop: a school's SIS pushes OneRoster CSV bundles to `python -m portal.sftp`, each school's account
confined to its own folder; a completed upload is handed to jobs.bundles.accept_bundle (validated, then synced)."""
