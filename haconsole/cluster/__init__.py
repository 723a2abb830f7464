"""The cluster model: events from every source, the ClusterView fold, commands."""
