"""Owner satisfaction survey events (the complaints service is the producer)."""
