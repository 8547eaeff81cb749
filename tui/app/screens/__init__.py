"""Screens: thin layout and wiring over the widgets."""
