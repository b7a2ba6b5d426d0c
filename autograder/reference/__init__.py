"""Reference evaluators for hidden tests and threshold checks (instructors only, never shipped)."""
