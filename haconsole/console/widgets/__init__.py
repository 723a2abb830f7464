"""The console's widgets; each renders part of a ClusterView and nothing else."""
