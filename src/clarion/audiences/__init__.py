"""Audiences: segment definitions in PQL, segment jobs (membership snapshots), export jobs."""
