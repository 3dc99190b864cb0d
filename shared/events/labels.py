"""Dutch labels of the catalog's codes: one wording wherever residents and partners read them
(the gateway's categories, e-mails, charts). `label` starts with a capital; `in_sentence` is for
running text ("Nieuwe melding: inbraak")."""

from __future__ import annotations

from enum import StrEnum

from shared.events.codes import Category, IndicatorKind, Urgency

CATEGORY: dict[Category, str] = {
    Category.SUSPICIOUS_SITUATION: "Verdachte situatie",
    Category.BURGLARY: "Inbraak",
    Category.YOUTH_NUISANCE: "Overlast door jongeren",
    Category.DRUGS_NUISANCE: "Drugsoverlast",
    Category.NOISE_NUISANCE: "Geluidsoverlast",
    Category.VANDALISM: "Vandalisme",
    Category.LITTER_DUMPING: "Afval en dumping",
    Category.TRAFFIC_SAFETY: "Verkeersveiligheid",
    Category.OTHER: "Overig",
}
URGENCY: dict[Urgency, str] = {
    Urgency.ACUTE: "Acuut",
    Urgency.HIGH: "Hoog",
    Urgency.NORMAL: "Normaal",
    Urgency.LOW: "Laag",
}
INDICATOR: dict[IndicatorKind, str] = {
    IndicatorKind.SIGNAL_COUNT: "Aantal meldingen",
    IndicatorKind.MEDIAN_ACKNOWLEDGE_MINUTES: "Mediane reactietijd (minuten)",
    IndicatorKind.RESOLVED_SHARE: "Aandeel opgelost (%)",
    IndicatorKind.SATISFIED_SHARE: "Aandeel tevreden melders (%)",
    IndicatorKind.INITIATIVES: "Aantal bewonersinitiatieven",
    IndicatorKind.PARTICIPANTS: "Aantal deelnemers aan initiatieven",
    IndicatorKind.MANUAL: "Gemeten waarde (handmatig)",
}
_ALL: dict[str, str] = {str(code): text for table in (CATEGORY, URGENCY, INDICATOR) for code, text in table.items()}


def label(code: StrEnum | str) -> str:
    """The Dutch label of a category, urgency or indicator code; an unknown code is shown as it is."""
    return _ALL.get(str(code), str(code))


def in_sentence(code: StrEnum | str) -> str:
    text = label(code)
    return text[:1].lower() + text[1:]
