"""The dashboard's extra screens: the clear confirmation and the help."""
