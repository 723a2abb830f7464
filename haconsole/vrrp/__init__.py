"""The sans-IO VRRP core: packet codec and instance state machine. No sockets, no clocks."""
