"""Bulk correction of order metadata from a file, over HTTP with the client.

Built on `asyncorders.client` only: it works against any asyncorders server
(or Tango, without the ETag check) and imports nothing of the server.
"""
