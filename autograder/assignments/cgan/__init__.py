"""07_cgan for instructors: reference evaluators, common mistakes, calibration spec."""
