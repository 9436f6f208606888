"""Background work, in one place. Four distinct things run beside the foreground:

- `cognition_thread.CognitionThread`: a thread that drains the cognition job queue and dreams on an
  adaptive schedule (inside `nexus worker`, or inside `nexus serve` with NEXUS_SERVE_BACKGROUND=thread);
- `index_thread.IndexThread`: a thread that embeds newly stored memories in batches, off the
  request path (`nexus serve` with NEXUS_SERVE_BACKGROUND=thread);
- `serve_child`: the `nexus worker` child process of `nexus serve` (the default): `ServeChild` is the
  server's side (start, feed memory ids over a pipe, supervise, restart), `ServeChildLoop` the
  child's (embed in small units, report status lines); `throttle` is how it yields the cores
  (nice + SCHED_IDLE, waiting for quiet moments of the server read from /proc);
- `spool_drain`: one detached `nexus hook --worker` process at a time drains the hook spools
  (the hook's hand-off, and what the records mean, are integrations/hook_drain.py).

Importing this package loads nothing, and no hook process imports it.
"""
