"""03_diffusion: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "03_diffusion"
