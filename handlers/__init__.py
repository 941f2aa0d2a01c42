"""The chatops application, cut by capability: one package per capability (its store, plans,
commands, buttons and jobs) on a small framework (``core``), the change engine (``changes``),
the production checks, the configuration, and the composition root that builds it all once
(``composition``). Delivery (Slack, the shell, HTTP) lives in ``bot``; flag state in ``flags``.
"""
