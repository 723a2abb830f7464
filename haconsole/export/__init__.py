"""Exports: views of the view (Prometheus metrics, the one-shot `status`).

Each reads a `cluster.view.ClusterView` (and `cluster.alarms`) at the moment it is asked
and keeps no state of its own, so the screen, a scrape and a status check can never
disagree about the same events.
"""
