"""07_cgan: its profile, training loop and widgets (what students import)."""

ASSIGNMENT = "07_cgan"
