"""Bundled sample data and the deterministic generator that produces it."""
