"""haconsole: a terminal operations console for VRRP high availability."""

__version__ = "0.1.0"
