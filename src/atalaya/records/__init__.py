"""Uniform criminal records: incidents, offences, persons and things, and their rules."""
