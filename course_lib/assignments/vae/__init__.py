"""02_vae: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "02_vae"
