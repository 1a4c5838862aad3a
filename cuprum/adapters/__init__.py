"""Adapters that turn cuprum's `ExecEvent` stream into logs, metrics and traces.

Each adapter is a listener for `sh.observe` plus an ``install`` function that
registers one on the current scope and returns its `HookHandle`:

- `cuprum.adapters.logging`: one structured stdlib `logging` record per
  start and per end of a run (standard library only);
- `cuprum.adapters.prometheus`: run counters by program and outcome, a
  duration histogram and bytes pumped per pipeline stage (needs the
  ``prometheus`` extra: ``pip install cuprum[prometheus]``);
- `cuprum.adapters.otel`: an OpenTelemetry span per command and per
  pipeline (needs the ``otel`` extra: ``pip install cuprum[otel]``).

Importing an adapter whose library is missing raises an `ImportError` that
names the extra to install. Importing ``cuprum.adapters`` itself imports
none of them.
"""
