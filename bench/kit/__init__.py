"""What the benchmarks share, one concern per module.

- ``paths``: the project root, the venv's programs, ``bench/results`` and ``bench/workload``;
- ``processes``: subprocesses started in their own session, logging to files, stopped by pid; the CLI;
- ``sinks``: the fast SMTP sink (``bench.smtp_sink``) in a subprocess, and a stalled SMTP listener;
- ``cpu``: CPU of process groups and of the machine from ``/proc``; waiting for a quiet machine;
- ``backends``: a fresh embedded home, or a fresh PostgreSQL database + Redis db 9;
- ``instance``: a Clarion instance's tenant, HT campaign, ``clarion serve`` and its counts;
- ``workload``: the sample email, its Clarion template, a recipient's context, the HT body;
- ``load``: ``wrk`` with a generated Lua script, and its result;
- ``profiling``: py-spy recording and its summary;
- ``report``: tables, targets, machine and code info, ``bench/results/NAME.json``;
- ``runner``: the work folder, the shared options, one run per backend mode.
"""
