"""The WhatsApp Web simulator: a local https://web.whatsapp.com for demos and tests (see server.py)."""

from watui.sim.server import SimControlError, SimStartError, Simulator

__all__ = ["SimControlError", "SimStartError", "Simulator"]
