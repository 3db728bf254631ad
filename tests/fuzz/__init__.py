"""Property-based robustness tests: mutated hook and feedback requests, and the OpenAPI contract."""
