"""asyncorders: a self-hostable service for Tango-style async bulk reward orders."""

__version__ = "0.1.0"
