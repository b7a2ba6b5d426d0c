"""train package: see docs/ARCHITECTURE.md."""
