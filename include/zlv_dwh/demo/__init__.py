"""Demo sources and the `make demo` runner: local services, seeded data, the whole pipeline."""
