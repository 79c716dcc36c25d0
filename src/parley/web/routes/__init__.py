"""HTTP routes, one module per resource. Routes parse, call the store or runs, and return."""
