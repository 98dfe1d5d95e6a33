"""Tests of the vendor connectors against local fakes."""
