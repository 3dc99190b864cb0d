"""Tables of the neighbourhoods schema (migrations/), one module per concept."""
