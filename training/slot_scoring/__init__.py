"""The slot scorer (issue 12): evidence of a frozen network's slots on training queries,
stored once, and a small head trained on it to pick the slots that answer."""
