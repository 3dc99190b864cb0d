"""Tables of the notifications schema (see migrations/) and the queries on them, by concept:

- `channels`: the partners' channels read model;
- `deliveries`: the repository of deliveries (tracked by the unit of work, which writes the
  events they raise when it commits), their attempts, and the list query;
- `signals`: the signals seen reported (reference and group, from `signal.received`);
- `queue`: what the sender works from: leasing due deliveries in order, recording attempts,
  and waking the senders of every replica.
"""
