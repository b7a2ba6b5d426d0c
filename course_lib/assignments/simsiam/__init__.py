"""04_simsiam: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "04_simsiam"
