"""The Textual app: screens, widgets (each with its .tcss beside it), messages and commands.

Only this package imports textual: the engine, store, sync, server and CLI stay UI-free.
"""
