"""The observatory: published crime statistics, populations and comparable indicators."""
