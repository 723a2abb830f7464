"""Sources: adapters that turn something real into cluster events and run commands."""
