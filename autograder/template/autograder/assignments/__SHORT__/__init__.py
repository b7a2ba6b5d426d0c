"""__NAME__ for instructors: reference evaluators, common mistakes, calibration spec."""
