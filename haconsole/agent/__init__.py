"""`haconsole agent`: the engine as a keepalived drop-in daemon (daemon.py), its control
socket server (control.py) and client (ctl.py), the console's request mapping
(protocol.py), precise event loop (loop.py) and command line (cli.py)."""
