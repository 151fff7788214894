"""Kissweb detector."""
