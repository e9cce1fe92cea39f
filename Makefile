# The two commands of README.md:
#   make demo   set up, seed the demo county and run it on the embedded default (SQLite)
#   make test   set up and run every test (on PostgreSQL + Redis too when configured)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint chromium translations vendor-govuk bench hook-docs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/commonwatch demo
	$(BIN)/commonwatch run

chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# On the database the environment names (PostgreSQL and Redis in CI), then, when that
# was PostgreSQL, once more on SQLite with in-process jobs, leaving out the browser tests
# and the whole-app walks (marked "walk": their SQL does not differ by database, and they
# ran on PostgreSQL just before). Tests run in one process per core (pytest-xdist; each
# has its own databases): TEST_WORKERS=0 runs them in one.
TEST_WORKERS ?= auto
test: $(BIN)/.installed chromium lint
	$(BIN)/pytest -n $(TEST_WORKERS)
	@if [ -n "$$COMMONWATCH_TEST_DATABASE_URL" ]; then \
	  echo "== again on SQLite, jobs in-process =="; \
	  COMMONWATCH_TEST_DATABASE_URL= COMMONWATCH_TEST_REDIS_URL= $(BIN)/pytest -n $(TEST_WORKERS) -m "not browser and not walk"; \
	fi

# Re-extract the message catalogue after changing user-facing text, then compile it.
# The core's catalogue, then each plugin's own (plugins/<name>/translations).
BABEL_EXTRACT := $(BIN)/pybabel extract -k lazy_gettext -k _l --no-location --sort-output --project=Commonwatch
translations: $(BIN)/.installed
	$(BABEL_EXTRACT) -F babel.cfg -o core/translations/messages.pot .
	$(BIN)/pybabel update -i core/translations/messages.pot -d core/translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d core/translations
	@for p in plugins/*/; do \
	  [ -d "$$p/translations" ] || continue; \
	  $(BABEL_EXTRACT) -F babel-plugin.cfg -o "$$p/translations/messages.pot" "$$p" && \
	  $(BIN)/pybabel update -i "$$p/translations/messages.pot" -d "$$p/translations" --no-fuzzy-matching --ignore-obsolete && \
	  $(BIN)/pybabel compile -d "$$p/translations" || exit 1; \
	done

# Put each hookspec's docstring (core/hookspecs.py) into its section of
# docs/plugin_hooks.md, after changing a hookspec.
hook-docs: $(BIN)/.installed
	$(BIN)/python -m core.hookdocs

bench: $(BIN)/.installed
	@for b in bench/*.py; do $(BIN)/python $$b || exit 1; done
