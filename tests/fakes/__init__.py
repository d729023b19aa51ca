"""Real servers on loopback that stand in for the ones users run (SMTP, Google APIs)."""
