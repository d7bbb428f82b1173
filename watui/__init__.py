"""watui: keep a WhatsApp Web session alive on a server."""

__version__ = "0.1.0"
