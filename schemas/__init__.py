"""The event contract shared by every service and every outside subscriber.

Imports nothing but the standard library and pydantic. See ``schemas/README.md``.
"""
