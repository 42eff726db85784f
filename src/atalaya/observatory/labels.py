"""What the codes of the observatory's dimensions are called, in the reader's language:
the labels of exports and of the SDMX code lists. Codes not listed are shown as they
are (age groups such as ``18-24`` say what they are); ICCS codes and areas have their
own names (``atalaya.classification``, ``atalaya.geo``)."""

from __future__ import annotations

from atalaya.i18n import N_, Translator
from atalaya.observatory.models import TOTAL

LABELS: dict[str, dict[str, str]] = {
    "indicator": {
        "offences": N_("Offences"),
        "victims": N_("Victims"),
        "persons_suspected": N_("Persons suspected"),
        "persons_arrested": N_("Persons arrested"),
        "offences_per_100k_published": N_("Offences per 100,000 inhabitants (publisher's rate)"),
        "victims_per_100k_published": N_("Victims per 100,000 inhabitants (publisher's rate)"),
    },
    "sex": {TOTAL: N_("Total"), "male": N_("Male"), "female": N_("Female"),
            "unknown": N_("Unknown")},
    "age_group": {TOTAL: N_("All ages"), "unknown": N_("Unknown"), "65+": N_("65 and over"),
                  "18+": N_("18 and over")},
    "weapon": {
        TOTAL: N_("Any weapon or mechanism"),
        "firearm": N_("Firearm"),
        "sharp_object": N_("Sharp object"),
        "blunt_object": N_("Blunt object"),
        "other_weapon": N_("Other weapon"),
        "hands_feet": N_("Hands or feet"),
        "poison": N_("Poison"),
        "explosive": N_("Explosive"),
        "fire": N_("Fire"),
        "vehicle": N_("Vehicle"),
        "none": N_("None"),
        "unknown": N_("Unknown"),
    },
    "source_type": {
        "police": N_("Police"),
        "health": N_("Health"),
        "forensic": N_("Forensic"),
        "victim_survey": N_("Victim survey"),
        "demographic": N_("Demographic"),
    },
    "status": {
        "final": N_("Final"),
        "provisional": N_("Provisional"),
        "estimated": N_("Estimated"),
        "not_available": N_("Not available"),
        "confidential": N_("Confidential"),
    },
}  # fmt: skip


def label(dimension: str, code: str, tr: Translator) -> str:
    """Return the label of ``code`` in ``dimension`` in ``tr``'s language."""
    text = LABELS.get(dimension, {}).get(code)
    return tr.gettext(text) if text else code


def number(value: float | None) -> int | float | None:
    """Counts come out as whole numbers; anything else as it is."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value
