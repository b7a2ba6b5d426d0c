"""06_vqvae: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "06_vqvae"
