"""01_gan for instructors: reference evaluators, common mistakes, calibration spec."""
