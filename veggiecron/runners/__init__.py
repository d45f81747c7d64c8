"""Job types. Each type validates its `data` into a target and knows how to run it."""
