"""nets package: see docs/ARCHITECTURE.md."""
