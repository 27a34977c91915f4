# One entry point. `make demo` serves the embedded demo; `make test` runs the whole suite.
.PHONY: demo test test-sqlite lint format messages bench install ci

install:
	scripts/bootstrap.sh

demo:
	scripts/demo.sh

test:
	scripts/test.sh

test-sqlite:
	EDUSHARE_TEST_DB=sqlite scripts/test.sh

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# Regenerate the translation catalogues and compile them (needs GNU gettext).
messages: install
	.venv/bin/python manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore=tests --ignore=bench
	.venv/bin/python manage.py compilemessages --ignore=.venv

ci:
	bash .ci/run
