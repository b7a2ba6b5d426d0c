"""metrics package: see docs/ARCHITECTURE.md."""
