"""02_vae for instructors: reference evaluators, common mistakes, calibration spec."""
