"""The pure engine: (flow, state, input) -> (new state, events). No I/O, no clock.

It walks a `Flow` the way Typebot's bot engine does (../shared/typebot-format.md §10, after
`walkFlowForward.ts` and `continueBotFlow.ts`): groups run block by block until an input pauses
the flow; edges leave from blocks, items and events; Jump/Return/Typebot link add "virtual"
moves. Randomness comes only from the session seed plus `state.rng_counter`.

Frames (Typebot's `typebotsQueue`): entering a Typebot link pushes onto `state.link_stack` the
pointer where the parent resumes, and onto `state.link_frames` the parent's variables (None when
the link is to the same flow, whose variables are simply shared). While a linked flow runs,
`state.variables` holds *that* flow's values by its own variable ids, filled by name from the
frames below (Typebot's fillVariablesWithExistingValues). When it ends, its values go back to
the parent by name if the link merges results (v6 default: no; before v6: yes).
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tui import engine_blocks as eb
from tui.errors import EngineError, ScriptStoppedError
from tui.events import EventType
from tui.flow.jsvalues import optional_text
from tui.flow.model import BUBBLE_TYPES, INPUT_TYPES, Block, Event, Flow, Group
from tui.rules.javascript import VALUE_LIMIT_CHARS, ScriptRunaway
from tui.rules.templates import run_code, substitute
from tui.rules.variables import Scope, to_stored_value
from tui.steps import Emitted, EngineState, InputSpec, Pointer, VariableValue, as_json_data, copy_with

if TYPE_CHECKING:
    from tui.rules.answers import AnswerResult, Fail, Skip, Success

MAX_BLOCKS_PER_STEP = 1000
LIMIT_MESSAGE = (
    f"stopped: the flow ran {MAX_BLOCKS_PER_STEP} blocks without waiting for input (a loop without an input?)"
)


def limit_message(group_title: str) -> str:
    """The step-limit line, naming the group where the walk was when it stopped."""
    return (
        f"stopped in group {group_title!r}: the flow ran {MAX_BLOCKS_PER_STEP} blocks without waiting"
        " for input (a loop without an input?)"
    )


@dataclass(frozen=True)
class StepResult:
    """What one step produced: the new state and the events to commit, in order."""

    state: EngineState
    events: list[Emitted]


class _Continue:
    """A block's outcome: go on with the next block of the same group."""


class _Stop:
    """A block's outcome: the step is over (paused at an input, or stopped by the limit)."""


CONTINUE = _Continue()
STOP = _Stop()


@dataclass(frozen=True)
class _Resubmit:
    """Reached the input a reply event interrupted: submit the pending reply to it again."""

    at: Pointer
    text: str


# What running a block yields: keep going, an edge id to follow, a direct position (a virtual
# edge), None (Typebot's `outgoingEdgeId: null`: this path ends), or the end of the step.
Outcome = _Continue | _Stop | _Resubmit | str | Pointer | None
# Where the walk goes next: a position, None (the path ended: pop a frame or finish), or stop.
Next = Pointer | None | _Stop | _Resubmit


@dataclass
class _Run:
    """The mutable context of one step (the state here is already a private copy)."""

    root: Flow
    state: EngineState
    now: datetime
    flow_key: str
    baseline: dict[str, VariableValue]
    events: list[Emitted] = field(default_factory=list)
    terminal: Emitted | None = None
    blocks_run: int = 0
    refused: set[str] = field(default_factory=set)  # variables whose too-large value was noted
    _scope: Scope | None = None

    @property
    def flow(self) -> Flow:
        return self.root if not self.flow_key else _flow_for(self.root, self.flow_key)

    def scope(self) -> Scope:
        """The current flow's variables and values. Reused while both stay the same objects (a
        scope reads them by reference); a link to another flow, or back, makes a new one."""
        flow_variables, values = self.flow.variables, self.state.variables
        scope = self._scope
        if scope is None or scope.variables is not flow_variables or scope.values is not values:
            scope = self._scope = Scope(flow_variables, values, now=self.now, next_seed=self.script_seed)
        return scope

    def script_seed(self) -> str:
        """A script's Math.random seed: the session seed and the next counter (replays match)."""
        counter = self.state.rng_counter
        self.state.rng_counter += 1
        return f"{self.state.seed}:script:{counter}"

    def emit(self, type_: EventType, **data: Any) -> None:
        self.events.append(Emitted(type=type_, data=data))

    def note(self, text: str) -> None:
        self.emit("note", text=text)

    def random(self) -> float:
        """The next seeded random number; advances `rng_counter` so replays match."""
        rng = random.Random(f"{self.state.seed}:{self.state.rng_counter}")
        self.state.rng_counter += 1
        return rng.random()


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def start(flow: Flow, *, now: datetime, seed: int, prefilled: dict[str, str] | None = None) -> StepResult:
    """Begin a conversation at the start event and run until the first input (or the end)."""
    # Only declared values: a variable never set is absent, which scripts see as `undefined`.
    state = EngineState(seed=seed, variables={v.id: v.value for v in flow.variables if v.value is not None})
    for name, value in (prefilled or {}).items():
        variable = flow.variable_by_name(name)
        if variable is not None:
            state.variables[variable.id] = value
    if eb.uses_transcript(flow):
        state.transcript = []
    run = _Run(flow, state, now, "", {v.name: v.value for v in flow.variables})
    start_event = next((e for e in flow.events if e.type == "start"), None)
    edge_id = start_event.outgoing_edge_id if start_event else None
    _drive(run, _edge_target(run, edge_id) if edge_id else None)
    return _finish_step(run)


def answer(flow: Flow, state: EngineState, text: str, *, now: datetime) -> StepResult:
    """Answer the waiting input (or pause) with `text` and run until the next input or the end."""
    run = _begin(flow, state, now)
    if run is None:
        return StepResult(deepcopy(state), [])
    at = run.state.waiting
    assert at is not None
    _drive(run, _on_reply(run, at, text, fire_events=True))
    return _finish_step(run)


def command(flow: Flow, state: EngineState, name: str, *, now: datetime) -> StepResult:
    """Run a command event (`/name`): jump to its group; a Return there re-asks the input."""
    run = _begin(flow, state, now)
    if run is None:
        return StepResult(deepcopy(state), [])
    waiting = run.state.waiting
    assert waiting is not None
    wanted = name[1:] if name.startswith("/") else name
    event = next(
        (e for e in run.flow.events if e.type == "command" and e.options.get("command") == wanted),
        None,
    )
    if event is None or not event.outgoing_edge_id:
        run.note(f"unknown command: /{wanted}")
        _pause_again(run)
        return _finish_step(run)
    run.state.return_mark = copy_with(waiting, {})
    if event.options.get("resumeAfter"):
        _push_frame(run, copy_with(waiting, {}), None)
    _drive(run, _edge_target(run, event.outgoing_edge_id))
    return _finish_step(run)


def describe_input(flow: Flow, state: EngineState) -> InputSpec | None:
    """The input the flow waits at, if any."""
    return state.input


# ---------------------------------------------------------------------------------------------
# Step plumbing
# ---------------------------------------------------------------------------------------------


def _begin(flow: Flow, state: EngineState, now: datetime) -> _Run | None:
    """A run over a private copy of the state, or None when nothing waits for a reply."""
    if state.status != "active" or state.waiting is None:
        return None
    copy = _private_copy(state)
    run = _Run(flow, copy, now, copy.waiting.flow, {})  # type: ignore[union-attr]
    run.baseline = _values_by_name(run)
    return run


def _private_copy(state: EngineState) -> EngineState:
    """A copy of `state` the step may change without touching the caller's.

    The engine changes a state only by assigning its fields, setting variables, appending to
    or popping from its lists, and assigning pointers (never changing one in place), so copying
    the containers is enough: a deep copy was the costliest part of an answer.
    """
    return copy_with(
        state,
        {
            "variables": {k: list(v) if isinstance(v, list) else v for k, v in state.variables.items()},
            "link_stack": list(state.link_stack),
            "link_frames": deepcopy(state.link_frames) if state.link_frames else [],
            "transcript": None if state.transcript is None else [dict(entry) for entry in state.transcript],
            "pending_reply": None if state.pending_reply is None else dict(state.pending_reply),
        },
    )


def _finish_step(run: _Run) -> StepResult:
    """Append the step's `variables` change set and its terminal event."""
    changes = {name: value for name, value in _values_by_name(run).items() if run.baseline.get(name) != value}
    if changes:
        run.emit("variables", changes=changes)
    if run.terminal is not None:
        run.events.append(run.terminal)
    return StepResult(run.state, run.events)


def _values_by_name(run: _Run) -> dict[str, VariableValue]:
    return run.scope().values_by_name()


def _drive(run: _Run, nxt: Next) -> None:
    """Walk until the step stops: run groups, pop finished frames, resubmit replies."""
    while True:
        if isinstance(nxt, _Stop):
            return
        if isinstance(nxt, _Resubmit):
            nxt = _on_reply(run, nxt.at, nxt.text, fire_events=False)
        elif nxt is None:
            nxt = _pop_frame(run)
            if nxt is None:
                _end(run)
                return
        else:
            nxt = _run_group(run, nxt)


def _end(run: _Run) -> None:
    """The conversation is complete."""
    state = run.state
    state.status, state.waiting, state.input, state.pending_reply = "completed", None, None, None
    run.terminal = Emitted(type="end", data={})


def _limit_reached(run: _Run, group: Group) -> _Stop:
    """Stop a runaway step (a loop without an input): error event, session completed."""
    state = run.state
    state.status, state.waiting, state.input, state.pending_reply = "completed", None, None, None
    run.terminal = Emitted(type="error", data={"text": limit_message(group.title or group.id)})
    return STOP


def _pause(run: _Run, at: Pointer, spec: InputSpec) -> _Stop:
    """Wait here for a reply."""
    run.state.waiting, run.state.input, run.state.pending_reply = at, spec, None
    run.terminal = Emitted(type="input", data=as_json_data(spec))
    return STOP


def _pause_again(run: _Run) -> None:
    """Re-emit the input the flow already waits at (after a refusal or an unknown command)."""
    at = run.state.waiting
    assert at is not None
    block = _block_at(run, at)
    spec = eb.input_spec(block, run.scope()) if block.is_input else run.state.input
    if spec is None:
        spec = eb.pause_spec(block, "pause")
    _pause(run, at, spec)


# ---------------------------------------------------------------------------------------------
# Positions, edges, frames
# ---------------------------------------------------------------------------------------------


def _flow_for(root: Flow, key: str) -> Flow:
    """The flow a frame runs: "" is the root, anything else a linked flow by Typebot id."""
    if not key:
        return root
    found = _find_linked(root, key, set())
    if found is None:
        raise EngineError(f"linked flow {key} is not available")
    return found


def _find_linked(flow: Flow, key: str, seen: set[str]) -> Flow | None:
    """Look a linked flow up in the root's map first, then in nested maps."""
    if key in flow.linked:
        return flow.linked[key]
    seen.add(flow.id)
    for child in flow.linked.values():
        if child.id not in seen:
            found = _find_linked(child, key, seen)
            if found is not None:
                return found
    return None


def _block_at(run: _Run, at: Pointer) -> Block:
    group = run.flow.group(at.group_id)
    if group is None or at.block_index >= len(group.blocks):
        raise EngineError("the flow changed: the block this session waits at is gone")
    return group.blocks[at.block_index]


def _here(run: _Run, group: Group, index: int) -> Pointer:
    return Pointer(flow=run.flow_key, group_id=group.id, block_index=index)


def _edge_target(run: _Run, edge_id: str | None) -> Pointer | None:
    """Where an edge of the current flow leads (its `to.blockId` or the group's first block)."""
    edge = run.flow.edge(edge_id) if edge_id else None
    group = run.flow.group(edge.to.group_id) if edge else None
    if edge is None or group is None:
        return None
    index = next((i for i, b in enumerate(group.blocks) if b.id == edge.to.block_id), 0)
    return _here(run, group, index)


def _after(run: _Run, at: Pointer, edge_id: str | None) -> Pointer | None:
    """After a reply: follow the edge, else the next block of the group, else the path ends."""
    if edge_id:
        return _edge_target(run, edge_id)
    group = run.flow.group(at.group_id)
    if group is not None and at.block_index + 1 < len(group.blocks):
        return Pointer(flow=at.flow, group_id=at.group_id, block_index=at.block_index + 1)
    return None


def _next_block(run: _Run, group: Group, index: int) -> Pointer | None:
    """Typebot's getNextBlock: the next block in the group, else the first one its edge reaches."""
    if index + 1 < len(group.blocks):
        return _here(run, group, index + 1)
    target = _edge_target(run, group.blocks[index].outgoing_edge_id)
    if target is None:
        return None
    target_group = run.flow.group(target.group_id)
    return target if target_group is not None and target_group.blocks else None


def _resume_point(run: _Run, group: Group, index: int) -> Pointer:
    """Where a parent resumes after a link block: its edge, else the next block; a position
    past the group's end means "nothing left here" (the walk then pops further)."""
    block = group.blocks[index]
    if block.outgoing_edge_id:
        target = _edge_target(run, block.outgoing_edge_id)
        return target if target is not None else _here(run, group, len(group.blocks))
    return _here(run, group, index + 1)


def _push_frame(run: _Run, resume: Pointer, parent_values: dict[str, VariableValue] | None, merge: bool = True) -> None:
    run.state.link_stack.append(resume)
    run.state.link_frames.append({"variables": parent_values, "merge": merge})


def _pop_frame(run: _Run) -> Pointer | None:
    """A finished (linked) flow hands back to its parent; None when there is no parent."""
    state = run.state
    if not state.link_stack:
        return None
    resume = state.link_stack.pop()
    frame = state.link_frames.pop() if state.link_frames else {"variables": None}
    parent_values = frame.get("variables")
    if parent_values is not None:
        parent = _flow_for(run.root, resume.flow)
        if frame.get("merge"):
            child = run.scope().values_by_name()
            for variable in parent.variables:
                if child.get(variable.name) is not None:
                    parent_values[variable.id] = child[variable.name]
        state.variables = parent_values
    run.flow_key = resume.flow
    return resume


# ---------------------------------------------------------------------------------------------
# Walking a group
# ---------------------------------------------------------------------------------------------


def _run_group(run: _Run, at: Pointer) -> Next:
    """Run a group from a block until a pause or a move elsewhere (walkFlowForward's executeGroup)."""
    run.flow_key = at.flow
    group = run.flow.group(at.group_id)
    if group is None:
        return None
    next_edge: str | None = None
    for index in range(at.block_index, len(group.blocks)):
        if run.blocks_run >= MAX_BLOCKS_PER_STEP:
            return _limit_reached(run, group)
        run.blocks_run += 1
        block = group.blocks[index]
        next_edge = block.outgoing_edge_id
        outcome = _execute(run, block, group, index)
        if isinstance(outcome, _Continue):
            continue
        if isinstance(outcome, str):
            return _edge_target(run, outcome)
        return outcome
    return _edge_target(run, next_edge) if next_edge else None


def _execute(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Run one block and say where to go next."""
    if block.type in BUBBLE_TYPES:
        return _bubble(run, block, group, index)
    if block.type in INPUT_TYPES:
        return _input(run, block, group, index)
    if block.type == "start":
        return CONTINUE
    handler = _LOGIC.get(block.type)
    if handler is not None:
        try:
            return handler(run, block, group, index)
        except ScriptRunaway as exc:
            # Nothing of this step is committed: the session stays at its last input.
            where = f"{block.type} block {block.id} in group {group.title or group.id!r}"
            raise ScriptStoppedError(f"stopped: the script of the {where} {exc.reason}") from exc
    return _skipped_integration(run, block, group, index)


def _follow(block: Block) -> Outcome:
    """Typebot's usual logic result: `outgoingEdgeId: block.outgoingEdgeId`."""
    return block.outgoing_edge_id or CONTINUE


def _bubble(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    take_latest = not eb.is_v6(run.flow)
    message = eb.bubble_message(block, run.scope(), take_latest=take_latest)
    if message is None:
        return CONTINUE
    run.events.append(Emitted(type="message", data=message))  # `emit` without repacking the dict
    _record_transcript(run, eb.transcript_entry(message))
    if eb.embed_waits(block):
        return _pause(run, _here(run, group, index), eb.pause_spec(block, "embed"))
    return CONTINUE


def _input(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    here = _here(run, group, index)
    pending = run.state.pending_reply
    if pending and pending.get("block_id") == block.id and pending.get("flow") == run.flow_key:
        run.state.pending_reply = None
        return _Resubmit(here, pending.get("text", ""))
    if block.type == "payment input":
        run.note("skipped payment input: payments are not supported in a terminal")
        return _follow(block)
    return _pause(run, here, eb.input_spec(block, run.scope()))


def _record_transcript(run: _Run, entry: dict[str, str] | None) -> None:
    if entry is not None and run.state.transcript is not None:
        run.state.transcript.append(entry)


def _set(run: _Run, variable_id: str | None, value: Any) -> None:
    """Store a value the way Typebot does (stringified, "" -> None); unknown ids are ignored.
    A value over 1 MiB of text is refused with a note (a doubling loop cannot eat the memory)."""
    variable = next((v for v in run.flow.variables if v.id == variable_id), None) if variable_id else None
    if variable is None:
        return
    stored = to_stored_value(value)
    if _text_size(stored) > VALUE_LIMIT_CHARS:
        _refuse(run, variable.name)
        return
    run.state.variables[variable.id] = stored


def _refuse(run: _Run, name: str) -> None:
    """Note a refused value once per variable and step (a loop would repeat it 500 times)."""
    if name not in run.refused:
        run.refused.add(name)
        run.note(f"refused: the new value of {name} is over 1 MiB; it keeps its old value")


def _text_size(value: VariableValue) -> int:
    if isinstance(value, list):
        return sum(len(item or "") + 3 for item in value)
    return len(value or "")


# ---------------------------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------------------------


def _on_reply(run: _Run, at: Pointer, text: str, *, fire_events: bool) -> Next:
    """A reply to the block the flow waits at: an input, an embed or a pausing Wait."""
    run.flow_key = at.flow
    block = _block_at(run, at)
    if block.is_input:
        return _on_input_reply(run, at, block, text, fire_events)
    run.emit("answer", block_id=block.id, text=text, content=text)
    if block.type == "embed":
        target = eb.wait_for_event(block).get("saveDataInVariableId")
        _set(run, target, eb.json_or_text(text))
    return _after(run, at, block.outgoing_edge_id)


@functools.cache
def _answer_rules() -> tuple[type[Fail], type[Skip], type[Success], Callable[..., AnswerResult]]:
    """The answer rules, imported on the first reply (a start shows, answers come later) and
    kept: an import statement in `_on_input_reply` cost about a microsecond per answer."""
    from tui.rules.answers import Fail, Skip, Success, validate_answer

    return Fail, Skip, Success, validate_answer


def _on_input_reply(run: _Run, at: Pointer, block: Block, text: str, fire_events: bool) -> Next:
    """Validate, then refuse (retry), divert to a reply event, or save and move on."""
    Fail, Skip, Success, validate_answer = _answer_rules()
    result = validate_answer(block, text, run.scope(), now=run.now, default_invalid_message=run.flow.invalid_message)
    if fire_events:
        diverted = _reply_events(run, at, block, text, failed=isinstance(result, Fail))
        if diverted is not False:
            return diverted  # type: ignore[return-value]
    if isinstance(result, Fail):
        run.emit("message", kind="text", text=result.retry_message, markdown=result.retry_message, retry=True)
        _pause(run, at, eb.input_spec(block, run.scope()))
        return STOP
    if isinstance(result, Skip):
        if fire_events:
            run.emit("answer", block_id=block.id, text=text, content="")
        return _after(run, at, block.outgoing_edge_id)
    assert isinstance(result, Success)
    if fire_events:
        run.emit("answer", block_id=block.id, text=text, content=result.content)
    _save_answer(run, block, result.content)
    for variable_id, value in result.variables_to_update.items():
        _set(run, variable_id, value)
    _record_transcript(run, {"role": "user", "text": result.content})
    edge = result.outgoing_edge_id or _edge_by_content(run, block, result.content)
    return _after(run, at, edge or block.outgoing_edge_id)


def _edge_by_content(run: _Run, block: Block, content: str) -> str | None:
    """Typebot's getOutgoingEdgeId fallback for a single choice: the first item (of all items,
    displayed or not) whose substituted label equals the saved content lends its edge."""
    if block.type not in ("choice input", "picture choice input") or block.options.get("isMultipleChoice"):
        return None
    if not content:
        return None
    key = "content" if block.type == "choice input" else "title"
    scope = run.scope()
    wanted = unicodedata.normalize("NFC", content)
    for item in block.items:
        label = item.data.get(key)
        if unicodedata.normalize("NFC", substitute(label if isinstance(label, str) else "", scope)) == wanted:
            return item.outgoing_edge_id
    return None


def _save_answer(run: _Run, block: Block, content: str) -> None:
    """Save into the input's variable; a variable already holding a list gets it appended."""
    variable_id = block.options.get("variableId")
    if not variable_id or not isinstance(variable_id, str):  # not text: names no variable
        return
    current = run.state.variables.get(variable_id)
    _set(run, variable_id, [*current, content] if isinstance(current, list) else content)


def _reply_events(run: _Run, at: Pointer, block: Block, text: str, *, failed: bool) -> Next | bool:
    """Fire the invalidReply event (on a refusal) or the reply event (on any reply).

    Returns False when no event applies. A Return in the event's group comes back to the input;
    after a reply event the same reply is then submitted again (`state.pending_reply`).
    """
    invalid = _event(run.flow, "invalidReply")
    if failed and invalid is not None:
        _set_reply_variables(run, invalid, block, text, at)
        run.state.return_mark = copy_with(at, {})
        return _edge_target(run, invalid.outgoing_edge_id)
    reply = _event(run.flow, "reply")
    if reply is None:
        return False
    run.emit("answer", block_id=block.id, text=text, content=text)
    _set_reply_variables(run, reply, block, text, at)
    _save_answer(run, block, text)
    run.state.return_mark = copy_with(at, {})
    run.state.pending_reply = {"flow": at.flow, "block_id": block.id, "text": text}
    return _edge_target(run, reply.outgoing_edge_id)


def _event(flow: Flow, type_: str) -> Event | None:
    """The flow's event of a type, when it is connected to something."""
    return next((e for e in flow.events if e.type == type_ and e.outgoing_edge_id), None)


def _set_reply_variables(run: _Run, event: Event, block: Block, text: str, at: Pointer) -> None:
    """Store the reply text, the input type name and the group title into the event's variables."""
    options = event.options
    group = run.flow.group(at.group_id)
    _set(run, options.get("contentVariableId"), text)
    _set(run, options.get("inputTypeVariableId"), eb.REPLY_INPUT_TYPE.get(block.type))
    _set(run, options.get("inputNameVariableId"), group.title if group else None)


# ---------------------------------------------------------------------------------------------
# Logic blocks
# ---------------------------------------------------------------------------------------------


def _condition(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """The first true item wins: its edge, or the end of this path when it has none."""
    from tui.rules.conditions import evaluate_condition  # lazy: most first turns have no condition

    scope = run.scope()
    for item in block.items:
        condition = item.data.get("content")
        if condition and evaluate_condition(condition, scope):
            return item.outgoing_edge_id
    return _follow(block)


def _jump(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Jump to a group (by id, or by title through `{{Var}}`) and remember where to Return."""
    group_ref = block.options.get("groupId")
    if not group_ref:
        return CONTINUE
    target_id = eb.group_ref(str(group_ref), run.flow, run.scope())
    target = run.flow.group(target_id) if target_id else None
    if target is None:
        return None
    block_id = block.options.get("blockId")
    target_index = next((i for i, b in enumerate(target.blocks) if b.id == block_id), None)
    if block_id and target_index is None:
        return None
    mark = _next_block(run, group, index)
    if mark is not None:
        run.state.return_mark = mark
    return _here(run, target, target_index or 0)


def _return(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Go back to the return mark (after the last Jump, or the input an event interrupted)."""
    mark = run.state.return_mark
    if mark is None:
        return CONTINUE
    target = run.flow.group(mark.group_id) if mark.flow == run.flow_key else None
    if target is None or mark.block_index >= len(target.blocks):
        return None
    run.state.return_mark = None
    return copy_with(mark, {})


def _ab_test(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Path a with probability aPercent (when it is connected), else path b."""
    items = {str(item.data.get("path", "")): item for item in block.items}
    a = items.get("a") or (block.items[0] if block.items else None)
    b = items.get("b") or (block.items[1] if len(block.items) > 1 else None)
    a_percent = _number(block.options.get("aPercent"), 50.0)
    if a is not None and a.outgoing_edge_id and run.random() * 100 < a_percent:
        return a.outgoing_edge_id
    return (b.outgoing_edge_id if b is not None else None) or CONTINUE


def _number(raw: Any, default: float) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return default


def _wait(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """A client-side delay (a `wait` event); with shouldPause the flow waits for any reply."""
    raw = substitute(str(block.options.get("secondsToWaitFor") or ""), run.scope())
    try:
        seconds: float | None = float(raw)
    except ValueError:
        seconds = None
    should_pause = bool(block.options.get("shouldPause"))
    if seconds is None and not should_pause:
        return _follow(block)
    run.emit("wait", seconds=seconds or 0)
    if should_pause:
        return _pause(run, _here(run, group, index), eb.pause_spec(block, "pause"))
    return _follow(block)


def _redirect(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Show the URL to open; the flow goes on."""
    url = substitute(optional_text(block.options.get("url")), run.scope())
    if url:
        run.emit("message", kind="link", text=f"Open: {url}", markdown=f"Open: {url}", url=url)
    return _follow(block)


def _code(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Run the script (server- or client-side: the terminal is the client); its
    `setVariable(name, value)` calls update variables by name. An error is noted, and the flow
    goes on, as in Typebot (which only logs it)."""
    content = optional_text(block.options.get("content"))  # code that is not text: none
    if not content:
        return _follow(block)
    on_client = block.options.get("isExecutedOnClient", True)
    if on_client:
        content = content.replace("<script>", "").replace("</script>", "")
    result = run_code(content, run.scope(), add_return=False).result
    for name, value in result.set_calls:
        variable = run.flow.variable_by_name(name)
        if variable is not None:
            _set(run, variable.id, value)
    if result.error is not None:
        label = block.options.get("name") or "Script"
        run.note(f"script {label} failed: {result.error}")
    return _follow(block)


def _skipped_integration(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Integrations, forged blocks and wait-for-webhook: noted, then the block's edge."""
    run.note(f"skipped integration: {block.type}")
    return _follow(block)


def _typebot_link(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Run another flow (or a group of this one) and come back after the link block."""
    typebot_id = block.options.get("typebotId")
    if not typebot_id:
        return _follow(block)
    if typebot_id == "current" or typebot_id == run.flow.id:
        return _link_same_flow(run, block, group, index)
    key = "" if typebot_id == run.root.id else str(typebot_id)
    linked = run.root if not key else _find_linked(run.root, key, set())
    if linked is None:
        run.note(f"skipped Typebot link: linked flow {typebot_id} is not available")
        return _follow(block)
    return _link_other_flow(run, block, group, index, key, linked)


def _link_same_flow(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """`current`: run a group of this flow, then resume after the link (variables shared)."""
    group_ref = block.options.get("groupId")
    if not group_ref:
        return _follow(block)
    target_id = eb.group_ref(str(group_ref), run.flow, run.scope())
    _push_frame(run, _resume_point(run, group, index), None)
    target = run.flow.group(target_id) if target_id else None
    return _here(run, target, 0) if target is not None else None


def _link_other_flow(run: _Run, block: Block, group: Group, index: int, key: str, linked: Flow) -> Outcome:
    """Push the parent, fill the linked flow's variables by name, start it."""
    merge_option = block.options.get("mergeResults")
    merge = bool(merge_option) if eb.is_v6(run.flow) else merge_option is not False
    filled = _fill_by_name(run, linked)
    _push_frame(run, _resume_point(run, group, index), run.state.variables, merge)
    run.state.variables = filled
    run.flow_key = key
    group_ref = block.options.get("groupId")
    if group_ref:
        target_id = eb.group_ref(str(group_ref), linked, run.scope())
        target = linked.group(target_id) if target_id else None
        return _here(run, target, 0) if target is not None else None
    start_event = next((e for e in linked.events if e.type == "start"), None)
    edge = linked.edge(start_event.outgoing_edge_id) if start_event and start_event.outgoing_edge_id else None
    target = linked.group(edge.to.group_id) if edge else None
    return _here(run, target, 0) if target is not None else None


def _fill_by_name(run: _Run, linked: Flow) -> dict[str, VariableValue]:
    """The linked flow's values: each from the nearest frame with a same-named variable."""
    sources = [(run.flow, run.state.variables)]
    for resume, frame in zip(reversed(run.state.link_stack), reversed(run.state.link_frames), strict=True):
        if frame.get("variables") is not None:
            sources.append((_flow_for(run.root, resume.flow), frame["variables"]))
    filled: dict[str, VariableValue] = {}
    for variable in linked.variables:
        filled[variable.id] = None
        for flow, values in sources:
            match = flow.variable_by_name(variable.name)
            if match is not None:
                filled[variable.id] = values.get(match.id)
                break
    return filled


# ---------------------------------------------------------------------------------------------
# Set variable
# ---------------------------------------------------------------------------------------------


def _set_variable(run: _Run, block: Block, group: Group, index: int) -> Outcome:
    """Compute the new value by type and store it (client-side code is skipped with a note)."""
    options = block.options
    variable_id = options.get("variableId")
    if not variable_id:
        return _follow(block)
    kind = optional_text(options.get("type")) or "Custom"  # a type that is not text: the default
    if not any(v.id == variable_id for v in run.flow.variables):
        return _follow(block)
    if kind in ("Pop", "Shift"):
        new_list, item = eb.popped(run.scope().get_by_id(variable_id), kind)
        if options.get("saveItemInVariableId") and run.scope().get_by_id(variable_id) is not None:
            _set(run, options["saveItemInVariableId"], item)
        _set(run, variable_id, new_list)
        return _follow(block)
    try:
        value = eb.set_variable_value(
            kind,
            options,
            run.scope(),
            now=run.now,
            seed=run.state.seed,
            transcript=run.state.transcript or [],
            next_counter=lambda: _next_counter(run),
            note=run.note,
        )
    except EngineError as exc:
        from tui.rules.expressions import ValueTooLarge  # lazy, with the expressions that raise it

        if not isinstance(exc, ValueTooLarge):
            raise
        variable = run.scope().variable_by_id(variable_id)
        _refuse(run, variable.name if variable else variable_id)
        return _follow(block)
    _set(run, variable_id, value)
    return _follow(block)


def _next_counter(run: _Run) -> int:
    """Take the next random-source index (Random ID draws one per block run)."""
    counter = run.state.rng_counter
    run.state.rng_counter += 1
    return counter


_LOGIC: dict[str, Callable[[_Run, Block, Group, int], Outcome]] = {
    "Set variable": _set_variable,
    "Condition": _condition,
    "Jump": _jump,
    "Return": _return,
    "AB test": _ab_test,
    "Wait": _wait,
    "Redirect": _redirect,
    "Code": _code,
    "Typebot link": _typebot_link,
}
