"""Multilingual sentiment (frozen multilingual-e5-small + trained head), routing, topics."""
