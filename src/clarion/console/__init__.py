"""The web console at ``/console``: server-rendered pages over the public API (see ``README.md`` here)."""
