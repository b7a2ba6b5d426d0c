"""01_gan: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "01_gan"
