"""`make bench` (``python -m autograder.bench``): the course's fast paths against the common way, and the
full-profile predicted/measured table (:mod:`.full`). Instructor side: it uses the reference answers of
autograder/assignments/<short>/reference.py, which course_lib (and so the student bundle) never holds."""
