"""Transports, VIP management and announcements (in-memory and real Linux)."""
