"""Local fakes of the vendor APIs, for tests and the scale check (never for production)."""
