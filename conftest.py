"""The project's own suite loads SteadyChat's pytest plugin from this checkout (so `flows/*.chat.yaml`
run even before `pip install` registers its `pytest11` entry point, of the same name) and pytester."""

pytest_plugins = ["pytester", "pytest_steadychat"]
