"""The e-mails: Dutch plain text, what happened and where to read it, never more than codes and a link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.events import labels
from shared.events.codes import InitiativeKind, MessageKind, SupportKind

# Dutch wording of the neighbourhood codes (in running text)
_NEIGHBOURHOOD_LABELS: dict[str, str] = {
    MessageKind.INFO: "informatie",
    MessageKind.WARNING: "waarschuwing",
    MessageKind.CALL_TO_ACTION: "oproep",
    MessageKind.RESULT: "resultaat",
    MessageKind.EVENT: "activiteit",
    InitiativeKind.CLEANUP: "opruimactie",
    InitiativeKind.MEETING: "bijeenkomst",
    InitiativeKind.NEIGHBOURHOOD_WATCH: "buurtpreventie",
    InitiativeKind.YOUTH_ACTIVITY: "jongerenactiviteit",
    InitiativeKind.GREENING: "vergroening",
    InitiativeKind.SOCIAL: "sociale activiteit",
    InitiativeKind.OTHER: "overig",
    SupportKind.BUDGET: "budget",
    SupportKind.MATERIAL: "materiaal",
    SupportKind.PRESENCE: "aanwezigheid",
    SupportKind.PERMIT: "vergunning",
    SupportKind.PUBLICITY: "bekendheid",
    SupportKind.ADVICE: "advies",
}


def _word(code: object) -> str:
    return _NEIGHBOURHOOD_LABELS.get(str(code), str(code))


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
    elif event_type == "signal.transferred":
        subject = f"Melding {data.get('reference')} is aan uw organisatie overgedragen"
        text = f"{_signal_line(data)}\nGraag bevestigen vóór {data.get('acknowledgeBy')}."
    elif event_type == "signal.partner_involved":
        subject = f"Uw organisatie is betrokken bij melding {data.get('reference')}"
        text = (
            f"{_signal_line(data)}\nUw organisatie is als medebehandelaar betrokken: u kunt de melding lezen"
            " en terugkoppeling toevoegen."
        )
    elif event_type == "signal.reaction_received":
        subject = f"Antwoord op uw vraag over melding {data.get('reference')}"
        text = (
            f"{_signal_line(data)}\nDe melder heeft uw vraag beantwoord. Graag bevestigen vóór"
            f" {data.get('acknowledgeBy')}."
        )
    elif event_type == "neighbourhood.message_posted":
        subject = f"Nieuw buurtbericht voor {data.get('area')} om te delen"
        text = (
            f"Er is een buurtbericht ({_word(data.get('kind'))}) geplaatst voor {data.get('area')}."
            " Lees het na inloggen en deel het in uw groep."
        )
    elif event_type == "neighbourhood.message_withdrawn":
        subject = f"Buurtbericht voor {data.get('area')} ingetrokken"
        text = (
            f"Een buurtbericht ({_word(data.get('kind'))}) voor {data.get('area')} is ingetrokken."
            " Heeft u het gedeeld, laat dan in uw groep weten dat het niet meer geldt."
        )
    elif event_type == "initiative.started":
        asks = ", ".join(_word(a) for a in data.get("asks") or []) or "geen"
        subject = f"Nieuw bewonersinitiatief in {data.get('area')}"
        text = (
            f"Bewoners zijn in {data.get('area')} een initiatief gestart ({_word(data.get('kind'))})."
            f" Gevraagde steun: {asks}. Bekijk het initiatief en sluit aan."
        )
    elif event_type == "initiative.support_pledged":
        subject = f"Steun toegezegd aan het initiatief in {data.get('area')}"
        text = (
            f"Er is steun ({_word(data.get('supportKind'))}) toegezegd aan het initiatief"
            f" ({_word(data.get('kind'))}) in {data.get('area')}."
        )
    elif event_type == "initiative.completed":
        subject = f"Initiatief in {data.get('area')} afgerond"
        text = f"Het initiatief ({_word(data.get('kind'))}) in {data.get('area')} dat u steunt is afgerond."
    elif event_type == "initiative.stopped":
        subject = f"Initiatief in {data.get('area')} gestopt"
        text = f"Het initiatief ({_word(data.get('kind'))}) in {data.get('area')} dat u steunt is gestopt."
    elif event_type == "goal.review_due":
        subject = f"Kwartaalevaluatie {data.get('quarter')}: wijkdoel in {data.get('area')}"
        text = (
            f"Het kwartaal {data.get('quarter')} is voorbij. Het wijkdoel voor {data.get('area')}"
            f" ({data.get('year')}) is toe aan de kwartaalevaluatie."
        )
    elif event_type == "goal.reviewed":
        subject = f"Wijkdoel in {data.get('area')} geëvalueerd ({data.get('quarter')})"
        text = f"De evaluatie van het wijkdoel voor {data.get('area')} over {data.get('quarter')} is vastgelegd."
    elif event_type == "area.reviewed":
        subject = f"Kwartaalbespreking {data.get('quarter')} voor {data.get('area')} vastgelegd"
        text = (
            f"De kwartaalbespreking van {data.get('area')} over {data.get('quarter')} is gehouden; de cijfers"
            " staan vast. De afspraken en het verslag leest u na inloggen."
        )
    else:
        subject = "Testbericht van Wijkaanpak"
        text = "Dit is een testbericht: uw kanaal werkt."
    return Mail(subject, text + see + _CLOSING)


def group_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """To a group's channel, about a signal the group reported: the steps its admins hear back
    about, information-poor (the texts are read after logging in)."""
    reference = data.get("reference")
    see = f"\n\nBekijk de melding (na inloggen): {link}" if link else ""
    if event_type == "signal.escalated":
        subject = f"Melding {reference} uit uw groep is doorgestuurd"
        text = f"{_signal_line(data)}\nDe melding is doorgestuurd naar een partner, die hem gaat oppakken."
    elif event_type == "signal.merged":
        original = data.get("originalReference")
        into = f"melding {original}" if original else "een eerdere melding"
        subject = f"Melding {reference} uit uw groep is samengevoegd"
        text = f"{_signal_line(data)}\nDe melding is samengevoegd met {into} over hetzelfde."
    elif event_type == "signal.rejected":
        subject = f"Melding {reference} uit uw groep is afgewezen"
        text = f"{_signal_line(data)}\nDe melding is niet in behandeling genomen; de reden leest u na inloggen."
    elif event_type == "signal.reaction_requested":
        subject = f"Vraag over melding {reference} uit uw groep"
        text = (
            f"{_signal_line(data)}\nEen partner heeft een vraag aan de melders; u leest en beantwoordt hem na inloggen."
        )
    elif event_type == "signal.closed":
        subject = f"Melding {reference} uit uw groep is gesloten"
        text = f"{_signal_line(data)}\nDe melding is afgesloten."
    else:
        return partner_mail(event_type, data, link)
    return Mail(subject, text + see + _CLOSING)


def reporter_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """To a reporter, at every step of their signal: information-poor (no free text); what was
    written (an answer, a question, a reason) is read in the app."""
    reference = data.get("reference")
    see = f"\n\nU leest het antwoord in de app: {link}" if link else "\n\nU leest het antwoord in de app."
    if event_type == "signal.acknowledged":
        subject = f"Uw melding {reference} is in behandeling"
        text = (
            f"Bedankt voor uw melding {reference}. Een partner in uw wijk heeft hem ontvangen"
            " en in behandeling genomen, met een bericht voor u."
        )
    elif event_type == "signal.resolved":
        subject = f"Uw melding {reference} is afgehandeld"
        text = f"Uw melding {reference} is afgehandeld. De partner die hem oppakte heeft u een terugkoppeling gestuurd."
    else:
        see = f"\n\nBekijk uw melding in de app: {link}" if link else "\n\nBekijk uw melding in de app."
        if event_type == "signal.escalated":
            subject = f"Uw melding {reference} is doorgestuurd"
            text = (
                f"Bedankt voor uw melding {reference}. Hij is doorgestuurd naar een partner in uw wijk,"
                " die hem gaat oppakken."
            )
        elif event_type == "signal.merged":
            original = data.get("originalReference")
            into = f"melding {original}" if original else "een eerdere melding"
            subject = f"Uw melding {reference} is samengevoegd"
            text = (
                f"Bedankt voor uw melding {reference}. Hetzelfde was al gemeld in {into}; uw melding is"
                " daarbij gevoegd en telt mee. U hoort wat ermee gebeurt."
            )
        elif event_type == "signal.rejected":
            subject = f"Uw melding {reference} is niet in behandeling genomen"
            text = f"Uw melding {reference} is afgewezen. Waarom, leest u in de app."
        elif event_type == "signal.reaction_requested":
            subject = f"Een vraag over uw melding {reference}"
            text = (
                f"De partner die uw melding {reference} behandelt heeft een vraag aan u."
                " U leest en beantwoordt de vraag in de app."
            )
        else:
            subject = f"Uw melding {reference} is gesloten"
            text = f"Uw melding {reference} is afgehandeld en nu gesloten. Bedankt voor uw melding."
    return Mail(subject, text + see + _CLOSING)


def leader_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """To the leader of an initiative who gave an address: what happened, read the rest in the app."""
    area = data.get("area")
    see = f"\n\nBekijk uw initiatief in de app: {link}" if link else "\n\nBekijk uw initiatief in de app."
    if event_type == "initiative.support_pledged":
        subject = "Steun toegezegd voor uw initiatief"
        text = (
            f"Goed nieuws: een partner heeft steun ({_word(data.get('supportKind'))}) toegezegd"
            f" voor uw initiatief in {area}."
        )
    elif event_type == "initiative.completed":
        subject = "Uw initiatief is afgerond"
        text = f"Uw initiatief in {area} staat als afgerond. Bedankt voor uw inzet voor de buurt!"
    else:
        subject = "Uw initiatief is gestopt"
        text = f"Uw initiatief in {area} is gestopt."
    return Mail(subject, text + see + _CLOSING)


def proposer_mail(event_type: str, data: Mapping[str, Any], link: str | None) -> Mail:
    """To a residents' proposal's proposer who gave an address: that it was decided, nothing of the
    decision itself (whether, why, what goal): that is read in the app."""
    see = f"\n\nU leest het besluit in de app: {link}" if link else "\n\nU leest het besluit in de app."
    subject = "Er is een besluit over uw voorstel"
    text = (
        f"Bedankt voor uw voorstel voor een wijkdoel in {data.get('area')} ({data.get('year')})."
        " De gemeente heeft er een besluit over genomen."
    )
    return Mail(subject, text + see + _CLOSING)
