"""The dashboard's widgets: each renders one part of a SessionInfo snapshot handed down by the App."""
