"""Code that runs INSIDE the grading sandbox (bound read-only as /opt/dgm/sandboxed).

Untrusted student code runs next to it, so nothing here decides points: the notebook runner
(:mod:`.runner`) produces checkpoints and outputs, the probe server (:mod:`.probe`) calls the student's
functions on the judge's inputs and sends back plain data in the format of :mod:`.wire`. These modules
import only the standard library, torch, nbformat/nbclient and course_lib (never ``autograder``), and
import each other relatively, so the trusted side can use :mod:`.wire` too.
"""
