"""Activation, in three sub-packages (each may call another's ``service``, never its ``repository``).

``flowservice`` — the Flow Service API: specs, base/source/target connections and dataflows.
``runs`` — dataflow runs (scheduled, ad hoc), the worker that executes them, their reads; export jobs.
``export`` — the export engine: an audience's members → one file → a destination (local, SFTP, S3).

Dependencies point one way: runs → flowservice → export. The modules at this level are shared by more
than one sub-package: ``errors`` (the Flow Service error catalogue, raised by all three), ``listing`` and
``repository`` (the list query language and its SQL, used by flowservice and runs).
"""
