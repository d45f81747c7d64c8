"""The built-in http job type: target.py parses a job's data, urls.py holds the rules of a target
URL, schema.py publishes the data's fields, runner.py sends the requests and delivery.py says when
a failed attempt is tried again. jobtype.py ties them together for the registry."""
