"""``mft-gateway agent``: the program a partner runs next to its systems.

It talks to the gateway only over HTTP(S) and only outwards (pull-based, so it works behind NAT):
it heartbeats (``/api/agents/heartbeat``), polls its jobs and claims their runs with a lease
(``/api/jobs``), moves files between local folders and the partner's VFS (``/2.0`` with a bearer
token exchanged from its API key at ``/token``), and reports every file as a transfer with
progress (``/api/transfers``). A state file in ``--state-dir`` lets a restarted agent finish the
claimed run and the half-done transfer instead of starting them again. See docs/agent.md.

Modules: ``options`` (command line), ``state`` (the checkpoint file), ``api`` (the /api wire),
``partner`` (the /2.0 wire), ``transfer`` (one file, reported), ``jobs`` (one run), ``main`` (loops,
signals, exit codes).
"""
