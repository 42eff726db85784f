"""Atalaya: the public-security information system of the Americas."""

__version__ = "0.1.0"
