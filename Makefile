# Shortcuts for the commands of README.md. Run from the repository root.
PYTHON ?= python
EXPERIMENTS := $(wildcard experiments/*.py)

.PHONY: install test slow lint typecheck demo gallery results

install:
	$(PYTHON) -m pip install ".[dev]"

test:
	$(PYTHON) -m pytest

slow:
	$(PYTHON) -m pytest -m slow

lint:
	ruff check . && ruff format --check .

typecheck:
	mypy

demo:
	$(PYTHON) -m graphdl demo --out graphdl-demo

# every picture in viz/ (the demo's and each experiment's) and, with the experiments' figures,
# the results files in experiments/results/ that the README quotes
gallery:
	$(PYTHON) -m graphdl gallery --out viz --quiet
	for script in $(EXPERIMENTS); do PYTHONPATH=. $(PYTHON) $$script --out viz --write-results > /dev/null || exit 1; done
	PYTHONPATH=. $(PYTHON) examples/second_derivative.py --out viz > /dev/null
	if $(PYTHON) -c "import playwright" 2> /dev/null; then \
	  PYTHONPATH=. $(PYTHON) examples/explore_training.py --out "$$(mktemp -d)" --screenshot viz/explorer.png > /dev/null || exit 1; \
	else echo "note: viz/explorer.png kept as it is (its screenshot needs pip install playwright and chromium)"; fi

# every experiment with its defaults: rewrites the numbers in experiments/results/ that the README
# quotes (gallery writes them too, with the figures)
results:
	for script in $(EXPERIMENTS); do PYTHONPATH=. $(PYTHON) $$script --write-results > /dev/null || exit 1; done
