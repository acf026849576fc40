"""Replies: what inbound mail does to rows (``inbound``), and, from issue 21 on, stored replies,
their labels and the actions they lead to."""
