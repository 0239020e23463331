"""Complaint events (the complaints service is the producer)."""
