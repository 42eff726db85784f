"""Normalising and matching names, plates, VINs, serial numbers and document numbers."""
