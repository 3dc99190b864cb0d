"""A proposal's support counted where residents live, end to end: a resident joins their buurt in
the neighbourhoods service, goals hears it by event (the same pseudonym from the same key), and
their support counts in `supportFromArea`; a resident of another buurt counts only in
`supportCount`; leaving the buurt takes the support out of the area's count."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import GM, Platform
from tests.support import eventually

JOIN = "mutation($a: String!) { joinNeighbourhood(area: $a) { code } }"
LEAVE = "mutation($a: String!) { leaveNeighbourhood(area: $a) }"
PROPOSE = "mutation($i: ProposeGoalInput!) { proposeGoal(input: $i) { id supportFromArea supportCount } }"
SUPPORT = "mutation($id: ID!) { supportGoalProposal(id: $id) { id } }"
READ = "query($a: String!) { goalProposals(area: $a, year: 2026) { id supportCount supportFromArea } }"


async def test_support_counts_in_the_area_where_the_supporter_joined(platform: Platform) -> None:
    wk, bu, elsewhere = "WK047912", "BU04791210", "BU04791310"  # Poelenburg, and a buurt of Peldersveld
    neighbour, stranger, proposer = (platform.headers("resident") for _ in range(3))
    await platform.data(neighbour, JOIN, a=bu)
    await platform.data(stranger, JOIN, a=elsewhere)
    body = {
        "municipality": GM,
        "area": wk,
        "year": 2026,
        "title": "Een veilige speeltuin",
        "contactEmail": "p@example.nl",
    }
    proposal = (await platform.data(proposer, PROPOSE, i=body))["proposeGoal"]
    assert (proposal["supportCount"], proposal["supportFromArea"]) == (0, 0)
    for who in (neighbour, stranger):
        await platform.data(who, SUPPORT, id=proposal["id"])

    async def counted(expected: tuple[int, int]) -> bool:
        found: list[dict[str, Any]] = (await platform.data(proposer, READ, a=wk))["goalProposals"]
        mine = next(p for p in found if p["id"] == proposal["id"])
        return (mine["supportCount"], mine["supportFromArea"]) == expected

    await eventually(lambda: counted((2, 1)), timeout=30, interval=0.3)
    assert await platform.data(neighbour, LEAVE, a=bu)
    await eventually(lambda: counted((2, 0)), timeout=30, interval=0.3)
