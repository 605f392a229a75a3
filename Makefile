# LGNetforma: the two set-up commands and a few more.
#   make run    install everything, prepare the SQLite demo, serve on http://127.0.0.1:5000
#               and run the worker that delivers the mail (printed here in development)
#   make test   install the test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# AgID's spid-sp-test pins packaging==21.2, which pytest cannot share: its own virtualenv.
SPID_SP_TEST_VENV ?= .venv-spid-sp-test
SPID_SP_TEST_VERSION ?= 1.2.18
# Debian packages the app needs: xmlsec1 signs and checks SPID/CIE's SAML messages.
SYSTEM_PACKAGES ?= xmlsec1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run install install-test assets translations demo test check lint format bench clean system spid-dev

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# System packages from Debian, installed when missing (apt-get, as root or through sudo).
system:
	@command -v xmlsec1 >/dev/null 2>&1 || { \
	    echo "Installing $(SYSTEM_PACKAGES) (Debian)…"; \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(SYSTEM_PACKAGES); }

install: system $(BIN)/activate
	$(PY) -m pip install --quiet -e .
	$(MAKE) --no-print-directory translations

install-test: system $(BIN)/activate $(SPID_SP_TEST_VENV)/bin/spid_sp_test
	$(PY) -m pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory translations

$(SPID_SP_TEST_VENV)/bin/spid_sp_test:
	$(PYTHON) -m venv $(SPID_SP_TEST_VENV)
	$(SPID_SP_TEST_VENV)/bin/python -m pip install --quiet "spid-sp-test==$(SPID_SP_TEST_VERSION)"

# Development only: SPID/CIE through the test IdP (SP keys made if missing, IdP trusted).
spid-dev:
	SPID_TEST_IDP=1 $(BIN)/lgnetforma spid test-idp

# Front-end assets from npm, copied into the git-ignored static/vendor/ (no CDN): Bootstrap
# Italia's CSS and fonts (not its JavaScript: see README, "Phones and slow connections"; its
# icons are cut into static/img/icons.svg by `make icons`) and Chart.js. npm ci also installs
# Lighthouse for `make lighthouse`.
assets:
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf static/vendor
	mkdir -p static/vendor/bootstrap-italia static/vendor/chart.js
	cp -r node_modules/bootstrap-italia/dist/css node_modules/bootstrap-italia/dist/fonts \
	      static/vendor/bootstrap-italia/
	cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.js/

# The icons the templates use (#it-…), cut from Bootstrap Italia's sprite (95 KB) into the
# committed static/img/icons.svg (about 2 KB). Run after using a new icon; a test checks.
.PHONY: icons
icons:
	$(PYTHON) -c "import re, pathlib as p; \
	names = sorted(set(re.findall(r'#(it-[a-z0-9-]+)', ''.join(f.read_text() for f in p.Path('templates').rglob('*.html'))))); \
	svg = p.Path('node_modules/bootstrap-italia/dist/svg/sprites.svg').read_text(); \
	symbols = [re.search(r'<symbol id=\"' + n + r'\"[^>]*>.*?</symbol>', svg).group(0) for n in names]; \
	p.Path('static/img/icons.svg').write_text('<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- Bootstrap Italia icons (BSD-3-Clause), cut by make icons -->' + ''.join(symbols) + '</svg>\n')"

translations:
	$(BIN)/pybabel compile -d lgnetforma/translations

# Re-extract the Italian msgids into the committed .pot, then merge them into each catalogue
# (created the first time). Translate every new or fuzzy entry before committing.
.PHONY: translations-update
TRANSLATION_LOCALES ?= en
translations-update:
	mkdir -p lgnetforma/translations
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
	    --ignore-dirs='.* ._ __pycache__ node_modules instance' \
	    --add-location=file --add-comments=TRANSLATORS: --project=LGNetforma \
	    -o lgnetforma/translations/messages.pot .
	for lang in $(TRANSLATION_LOCALES); do \
	    $(BIN)/pybabel update --init-missing --ignore-obsolete --no-fuzzy-matching -l $$lang \
	        -i lgnetforma/translations/messages.pot -d lgnetforma/translations || exit 1; \
	done

demo: install assets
	$(BIN)/lgnetforma db upgrade
	$(BIN)/lgnetforma comuni import
	$(BIN)/lgnetforma courses import
	$(BIN)/lgnetforma demo create
	$(MAKE) --no-print-directory spid-dev

# The web server and the worker (mail, scheduled jobs) together; Ctrl-C stops both. In
# development the worker prints each mail here, and /sviluppo/posta lists them.
run: demo
	@trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/lgnetforma worker & worker=$$!; \
	SPID_TEST_IDP=1 $(BIN)/lgnetforma run --host $(HOST) --port $(PORT)

test: install-test assets
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r lgnetforma -lll
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The developers' fast loop: no reinstall, no PostgreSQL, no browser, nothing slow.
check:
	@test -x $(BIN)/pytest || { echo "Run 'make test' (or 'make install-test') once first."; exit 2; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 -q -m "not postgres and not browser and not slow" $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r lgnetforma -lll

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Markdown rendering of adversarial shapes at the 200,000-character limit: one line per
# shape with its time; fails when one takes 2 s or more (see docs/course-format.md).
.PHONY: bench-markdown
bench-markdown: $(BIN)/activate
	$(PY) bench/markdown_render.py

# The load benchmark (see README): gunicorn in production mode on SQLite and PostgreSQL
# with 50,000 synthetic operators; prints a table and writes bench/results/latest.json.
bench: $(BIN)/activate assets
	$(PY) -m pip install --quiet -e '.[bench]'
	$(MAKE) --no-print-directory translations
	$(PY) bench/run.py $(BENCH_ARGS)

# Bytes Chromium receives for home, catalogue, course, module and my courses, first load and
# repeat visit, from gunicorn in production mode on the demo data (see README, "Light pages").
.PHONY: page-weight
page-weight: install-test assets
	$(MAKE) --no-print-directory translations
	$(PY) bench/page_weight.py

# Lighthouse (npm, pinned in package.json) on home, catalogue, course, module, quiz, my
# courses and the coordinator dashboard, mobile profile, Debian's Chromium (CHROME_PATH),
# gunicorn in production mode; writes bench/results/lighthouse.md.
.PHONY: lighthouse
lighthouse: install-test assets
	$(MAKE) --no-print-directory translations
	CHROME_PATH=$${CHROME_PATH:-/usr/bin/chromium} $(PY) bench/lighthouse.py

clean:
	rm -rf $(VENV) $(SPID_SP_TEST_VENV) node_modules static/vendor instance
