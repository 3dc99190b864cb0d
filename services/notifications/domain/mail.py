"""The e-mails: Dutch plain text, what happened and where to read it, never more than codes and a link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.events import labels


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def _signal_line(data: Mapping[str, Any]) -> str:
    category = labels.in_sentence(str(data.get("category")))
    urgency = labels.in_sentence(str(data.get("urgency")))
    return f"Melding {data.get('reference')} ({category}, urgentie {urgency}) in {data.get('area')}."


_CLOSING = (
    "\n\nMet vriendelijke groet,\nWijkaanpak\n\nDit bericht is automatisch verstuurd; u kunt er niet op antwoorden.\n"
)


def partner_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """The e-mail to a partner's e-mail channel: what happened, and where to read it."""
    see = f"\n\nBekijk de details (na inloggen): {link}" if link else ""
    if event_type == "signal.escalated":
        subject = f"Nieuwe melding {data.get('reference')} voor uw organisatie"
        text = f"{_signal_line(data)}\nGraag bevestigen vóór {data.get('acknowledgeBy')}."
    elif event_type == "signal.overdue":
        subject = f"Melding {data.get('reference')} is niet op tijd bevestigd"
        text = f"{_signal_line(data)}\nDe termijn voor bevestiging ({data.get('acknowledgeBy')}) is verstreken."
    elif event_type == "signal.reopened":
        subject = f"Melding {data.get('reference')} is heropend"
        text = f"{_signal_line(data)}\nDe melding is heropend en vraagt opnieuw aandacht."
    elif event_type == "signal.closed":
        subject = f"Melding {data.get('reference')} is gesloten"
        text = f"{_signal_line(data)}\nDe melding is afgesloten."
    elif event_type == "signal.acknowledged":
        subject = f"Melding {data.get('reference')} is in behandeling genomen"
        text = f"{_signal_line(data)}\nEen partner heeft de melding bevestigd."
    elif event_type == "signal.resolved":
        subject = f"Melding {data.get('reference')} is afgehandeld"
        text = f"{_signal_line(data)}\nEen partner heeft de melding afgehandeld en teruggekoppeld."
    elif event_type == "goal.review_due":
        subject = f"Kwartaalevaluatie {data.get('quarter')}: wijkdoel in {data.get('area')}"
        text = (
            f"Het kwartaal {data.get('quarter')} is voorbij. Het wijkdoel voor {data.get('area')}"
            f" ({data.get('year')}) is toe aan de kwartaalevaluatie."
        )
    elif event_type == "goal.reviewed":
        subject = f"Wijkdoel in {data.get('area')} geëvalueerd ({data.get('quarter')})"
        text = f"De evaluatie van het wijkdoel voor {data.get('area')} over {data.get('quarter')} is vastgelegd."
    else:
        subject = "Testbericht van Wijkaanpak"
        text = "Dit is een testbericht: uw kanaal werkt."
    return Mail(subject, text + see + _CLOSING)


def reporter_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """Feedback to a reporter: information-poor; the answer itself is read in the app."""
    reference = data.get("reference")
    see = f"\n\nU leest het antwoord in de app: {link}" if link else "\n\nU leest het antwoord in de app."
    if event_type == "signal.acknowledged":
        subject = f"Uw melding {reference} is in behandeling"
        text = (
            f"Bedankt voor uw melding {reference}. Een partner in uw wijk heeft hem ontvangen"
            " en in behandeling genomen, met een bericht voor u."
        )
    else:
        subject = f"Uw melding {reference} is afgehandeld"
        text = f"Uw melding {reference} is afgehandeld. De partner die hem oppakte heeft u een terugkoppeling gestuurd."
    return Mail(subject, text + see + _CLOSING)
