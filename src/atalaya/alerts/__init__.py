"""Alerts: wanted and missing persons, stolen vehicles, firearms and documents, and
deportation notices, exchanged between nodes under agreements."""
