"""SteadyChat: a terminal chatbot client that never loses a conversation."""

__version__ = "0.1.0"
