"""Job types: what a job does when it fires.

Each type is a module or package of its own (http/ is the built-in one) that parses a job's
`data` into an immutable target, describes its fields for the OpenAPI document and the dashboard
form, and runs a target. base.py says what a type provides; registry.py finds the types through
the `veggiecron.job_types` entry-point group, so a package outside this repository can add one.
"""
