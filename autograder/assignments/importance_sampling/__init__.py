"""05_importance_sampling for instructors: reference evaluators, common mistakes, calibration spec."""
