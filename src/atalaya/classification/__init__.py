"""Crime classification as data: the ICCS 1.0 tree and crosswalks from national classifications.

Both are read from CSV files under ``data/`` once per process; nothing is stored in the database.
"""

from atalaya.classification.crosswalks import Crosswalk, Mapping, coverage, crosswalk
from atalaya.classification.iccs import ClassificationFileError, Iccs, IccsCode, iccs

__all__ = [
    "ClassificationFileError",
    "Crosswalk",
    "Iccs",
    "IccsCode",
    "Mapping",
    "coverage",
    "crosswalk",
    "iccs",
]
