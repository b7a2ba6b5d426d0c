# Deep generative models course. Everything runs from a fresh clone: the first target you call
# creates .venv and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
# nbgrader's gradebook shells out to alembic: the venv's bin/ must be on PATH
export PATH := $(BIN):$(PATH)
# import course_lib and autograder from this checkout (also from a git worktree sharing one venv)
export PYTHONPATH := $(CURDIR)
PYTEST := $(BIN)/python -m pytest
SOLUTION_NOTEBOOKS := $(wildcard solutions/*/*.ipynb)
SUBMISSIONS ?= submissions
COURSE_DIR  ?= grading/course
JOBS        ?= 1
PROFILE     ?= fast
LMS         ?= canvas
LAB_ARGS    ?=

.PHONY: setup sandbox-deps browser-deps demo test test-quick lint format lab release check-release grade calibrate bench bench-grading \
	student-bundle clean formgrader submission collect roster feedback export

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

## Debian's bubblewrap: grading runs student code only inside its sandbox (and refuses without it).
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
	      || echo "could not install bubblewrap: grading will refuse to run student code"; \
	  else echo "bubblewrap is not installed (apt-get install bubblewrap as root): grading will refuse to run"; fi; }

## Debian's chromium for the browser tests (they skip, saying why, where it cannot be installed).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser tests will be skipped"; \
	  else echo "chromium is not installed (apt-get install chromium as root): the browser tests will be skipped"; fi; }

## The main job, offline: release, run each solution (fast profile), autograde, report.
demo: setup sandbox-deps
	COURSE_PROFILE=fast COURSE_STATIC_WIDGETS=1 $(BIN)/python -m autograder demo

## Everything, in the order that shows a failure early: lint, the quick tests, then each solution notebook
## once (nbval), then the end-to-end tests that reuse what those runs trained. Every stage runs; the exit
## status is non-zero if any failed. Each stage runs on TEST_WORKERS pytest-xdist processes with one torch
## thread each (a notebook's cells, one assignment's grading, a test file stay in one worker: tests/conftest.py);
## TEST_WORKERS=1 runs them in one process as before.
TEST_WORKERS ?= 2
ifeq ($(TEST_WORKERS),1)
XDIST :=
else
XDIST := -n $(TEST_WORKERS)
endif
TEST_ENV := COURSE_PROFILE=fast COURSE_PROGRESS=0 COURSE_STATIC_WIDGETS=1 $(if $(XDIST),OMP_NUM_THREADS=1 MKL_NUM_THREADS=1)
test: setup sandbox-deps browser-deps
	@rc=0; \
	echo "== lint"; $(MAKE) --no-print-directory lint || rc=1; \
	echo "== quick tests"; $(TEST_ENV) $(PYTEST) tests -m "not slow and not e2e" -q -p no:cacheprovider \
		$(XDIST) $(if $(XDIST),--dist loadgroup) || rc=1; \
	echo "== solution notebooks"; $(TEST_ENV) $(PYTEST) $(SOLUTION_NOTEBOOKS) --nbval-lax --nbval-cell-timeout=1800 \
		-p no:cacheprovider $(XDIST) $(if $(XDIST),--dist loadfile) --durations=10 || rc=1; \
	echo "== end-to-end tests"; $(TEST_ENV) COURSE_GRADE_JOBS=2 $(PYTEST) tests -m "slow or e2e" -p no:cacheprovider \
		$(XDIST) $(if $(XDIST),--dist loadgroup) --durations=30 || rc=1; \
	exit $$rc

## ruff (configured in pyproject.toml): the lint stage of make test, lint and format (`make format` fixes the latter).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .

## A few minutes: no notebook runs, no end-to-end grading.
test-quick: setup sandbox-deps
	COURSE_PROFILE=fast COURSE_PROGRESS=0 $(PYTEST) tests -m "not slow and not e2e" -q

## JupyterLab on the student view (notebooks/): nbgrader's Validate button only, no instructor tools.
lab: setup
	$(BIN)/python -m course_lib.lab notebooks/ $(LAB_ARGS)

## A student's submission: checks the checkpoints the graded cells need, writes <assignment>--<STUDENT>.zip.
submission: setup
	@test -n "$(NOTEBOOK)" || { echo "usage: make submission NOTEBOOK=notebooks/<assignment>/<assignment>.ipynb STUDENT=<your id>"; exit 2; }
	$(BIN)/python -m course_lib.submit $(NOTEBOOK) $(if $(STUDENT),--student $(STUDENT))

release: setup
	$(BIN)/python -m autograder release

check-release: setup
	$(BIN)/python -m autograder check-release

grade: setup sandbox-deps
	$(BIN)/python -m autograder grade $(SUBMISSIONS) --course-dir $(COURSE_DIR) --jobs $(JOBS) --profile $(PROFILE)

## The TA's side of a graded course folder (see the README's grading workflow).
collect: setup
	@test -n "$(DOWNLOAD)" -a -n "$(ASSIGNMENT)" || { echo "usage: make collect DOWNLOAD=lms.zip ASSIGNMENT=<assignment> [LMS=canvas|moodle|blackboard|folders|files] [SUBMISSIONS=submissions]"; exit 2; }
	$(BIN)/python -m autograder collect $(DOWNLOAD) --assignment $(ASSIGNMENT) --lms $(LMS) --out $(SUBMISSIONS)

roster: setup
	@test -n "$(ROSTER)" || { echo "usage: make roster ROSTER=roster.csv [COURSE_DIR=grading/course]"; exit 2; }
	$(BIN)/python -m autograder roster $(ROSTER) --course-dir $(COURSE_DIR)

formgrader: setup
	$(BIN)/python -m autograder formgrader --course-dir $(COURSE_DIR) $(LAB_ARGS)

feedback: setup
	$(BIN)/python -m autograder feedback --course-dir $(COURSE_DIR)

export: setup
	$(BIN)/python -m autograder export --course-dir $(COURSE_DIR)

## Calibrate the fast-profile thresholds of one assignment (hours of CPU; not part of make test):
## make calibrate A=02_vae [ARGS="--reuse"] -> docs/calibration/02_vae.json and .md
calibrate: setup
	@test -n "$(A)" || { echo "usage: make calibrate A=<assignment> [ARGS='--reuse --seeds 5 --threads 1,2']"; exit 2; }
	COURSE_PROFILE=fast COURSE_PROGRESS=0 $(BIN)/python -m autograder calibrate $(A) $(ARGS)

bench: setup
	COURSE_PROFILE=fast COURSE_PROGRESS=0 $(BIN)/python -m autograder.bench
	$(BIN)/python -m autograder.bench.budget

## Grading throughput (submissions per minute, --jobs 1 and 2) -> bench/grading.md
bench-grading: setup sandbox-deps
	COURSE_PROFILE=fast COURSE_PROGRESS=0 $(BIN)/python -m autograder.bench_grading

student-bundle: setup
	$(BIN)/python -m autograder bundle --out dist/student-bundle.zip

clean:
	rm -rf grading dist reports solutions/*/checkpoints solutions/*/figures
