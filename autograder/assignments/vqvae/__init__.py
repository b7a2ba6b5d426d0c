"""06_vqvae for instructors: reference evaluators, common mistakes, calibration spec."""
