"""`make bench` (``python -m autograder.bench``): the course's fast paths against the common way, and the
full-profile predicted/measured table (:mod:`.full`); ``python -m autograder.bench.budget`` counts the full profile's
per-student GPU budget from the profiles (docs/budget.json). Instructor side: it uses the reference answers of
autograder/assignments/<short>/reference.py, which course_lib (and so the student bundle) never holds."""
