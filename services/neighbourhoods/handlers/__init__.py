"""The neighbourhoods service's use cases, one plain async function each:
`(uow, command, principal, clock)`, by concept. The API calls these; none of them knows HTTP.
Aggregates raise their events and the unit of work writes them to the outbox when it commits.
"""
