"""`haconsole agent`: the engine as a keepalived drop-in daemon (daemon.py), its control
socket client (ctl.py), link tracking (links.py), precise event loop (loop.py) and
command line (cli.py)."""
