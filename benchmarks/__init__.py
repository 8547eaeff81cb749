"""SteadyChat benchmarks: hot paths measured against a baseline taken in the same run.

`python -m benchmarks [--quick] [--sizes tiny|quick|full]` prints a table and, as its last line,
one JSON object (the keys and goals of DESIGN.md's Benchmarks section). Every goal that can be
noisy on a shared machine is a ratio against a baseline measured in the same process, on the
same disk, interleaved with our own measurement where possible.

Modules: `step_commit` (a step's durable commit vs a bare sqlite3 floor, and vs a naive
snapshot-per-step client), `resume` (open + resume at 100 and 10,000 steps), `drain` (10,000
queued events to a real local server vs bare httpx POSTs), `report` (table + JSON line),
`common` (the looping flow, session building, timing helpers).
"""
