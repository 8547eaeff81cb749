"""Flows: one graph model, loaded from our YAML format or from Typebot exports."""

from tui.flow.model import Block, Edge, Event, Flow, Group, Item, Variable

__all__ = ["Block", "Edge", "Event", "Flow", "Group", "Item", "Variable"]
