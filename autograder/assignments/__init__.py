"""The instructor side of each assignment: ``autograder/assignments/<short>/`` (the same package name as
``course_lib/assignments/<short>/``) holds

* ``reference.py``: reference implementations and evaluators the hidden tests call (every one has
  ``evaluate_checkpoint(path, cfg) -> dict``);
* ``mistakes.py``: the common mistakes as a student would hand them in, and what each must cost
  (:mod:`autograder.mistakes`);
* ``calibration.py``: the thresholds' calibration spec (:mod:`autograder.calibration`).

Packages are looked up by the short name :func:`course_lib.assignments.discover` finds; nothing here
lists them.
"""
