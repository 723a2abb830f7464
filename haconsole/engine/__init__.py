"""The asyncio runtime of one VRRP node."""
