"""Tooling, not runtime: benchmarks, load tests, local fakes of the vendor APIs and one-off
command-line tools. The runtime packages (connectors, pipelines, models, sentiment_service)
never import it; tests/test_import_rules.py enforces that."""
