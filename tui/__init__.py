"""SteadyChat: a terminal chatbot client that never loses a conversation.

Layers, bottom to top; a module imports only from its own layer or below (no circles, nothing
reaching up; the import graph is computed over every `import`, function-local ones included):

1. `errors`, `events` (event `data` shapes), `session_ids`, `paths`: import nothing of ours but
   `errors` (and `flow.model` for `VariableValue`).
2. `flow`: the model (`flow.model`), JavaScript value semantics (`flow.jsvalues`) and the
   loaders (YAML, Typebot JSON). It never imports `rules`.
3. `rules`: Typebot's runtime rules, on the flow model. Inside it, `variables` (values, `Scope`)
   < `javascript` (V8) < `templates` (`{{Name}}` and inline code) < `expressions`, `conditions`,
   `richtext` < `answers`.
4. `steps` (engine vocabulary), then `engine_blocks` < `engine`.
5. `store`, `sync` (client; `sync.protocol` is shared with `server`), `server`.
6. `session`: engine + store.
7. Commands over sessions: `transcript`, `pull` < `resolve`, `drop`, `headless`, `chattest`.
8. `cli` and `app` (the only place that imports textual) at the top.
"""

__version__ = "0.1.0"
