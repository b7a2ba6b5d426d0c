"""05_importance_sampling: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "05_importance_sampling"
