"""04_simsiam for instructors: reference evaluators, common mistakes, calibration spec."""
