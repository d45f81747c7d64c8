# Developer shortcuts; run inside the virtualenv from README.rst.
.PHONY: format lint test bench

format:
	ruff format veggiecron tests bench start.py
	ruff check --fix veggiecron tests bench start.py

lint:
	ruff check veggiecron bench start.py
	mypy

test:
	python -m pytest

bench:
	python -m bench.precision --jobs 200 --seconds 30
