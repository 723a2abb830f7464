"""The in-process lab: simulated nginx nodes on a memory segment."""
