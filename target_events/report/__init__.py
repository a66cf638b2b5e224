"""``target-events report DESTINATION``: decision analytics over the landed events."""
