"""Gerbang shared library: contracts and pure domain logic shared by every service."""
