"""__NAME__: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "__NAME__"
