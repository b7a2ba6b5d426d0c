"""03_diffusion for instructors: reference evaluators, common mistakes, calibration spec."""
