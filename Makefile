# Developer shortcuts; run inside the virtualenv from README.rst.
.PHONY: format lint test bench

format:
	ruff format veggiecron tests bench start.py
	ruff check --fix veggiecron tests bench start.py

lint:
	ruff check veggiecron tests bench start.py
	mypy

test:
	python -m pytest

bench:
	python -m bench.dispatch --quick
	python -m bench.scale --quick
	python -m bench.api --quick
	python -m bench.ui --quick
