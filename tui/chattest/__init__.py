"""Flow tests for flow authors: `*.chat.yaml` files read (cases), replayed (runner), recorded
(update), reported (junit) and run by `steadychat test` (command) and the pytest plugin
(`pytest_steadychat`, at the repository root). Core: never imports textual."""
