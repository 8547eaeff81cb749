"""Typebot's JavaScript (Set variable Custom, Code, `{{= inline =}}`) run in an embedded V8.

Typebot runs this code in V8 (isolated-vm) on its server and in the browser for client-side
blocks. We use V8 too, through `mini-racer` (PyPI), so `let`, `if`, helper functions,
`toLocaleString` and friends behave as they do there. Wrapping follows
`packages/variables/src/executeFunction.ts`: the body runs as an async function whose
parameters are the ids of the variables the code names, with their guessed-type values
(`undefined` when never set); `setVariable(name, value)` records changes by name.

Limits per evaluation: 1 s of run time and a 64 MB heap (past either, `ScriptRunaway`), no I/O
(plain V8 has none; `fetch` is absent) and no host objects (nothing from Python is exposed).

Purity: the engine has no clock or randomness of its own. `Date` (no arguments, `Date.now()`,
`Intl.DateTimeFormat().format()`) reads the step's `now`; `Math.random` is a PRNG seeded from
the caller's seed text (session seed plus a per-evaluation counter); the time zone is UTC. So a
replayed step computes the same values. Nothing survives between evaluations: each runs in its
own function scope with the built-ins frozen, and globals it creates are deleted afterwards.

The engine starts on the first evaluation (a flow without code never loads V8) and is closed
at interpreter exit (mini-racer can otherwise hang the exit).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import math
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tui.errors import EngineError
from tui.flow.jsvalues import UNDEFINED

TIME_LIMIT_S = 1.0
MEMORY_LIMIT_BYTES = 64 * 1024 * 1024
VALUE_LIMIT_CHARS = 1024 * 1024  # 1 MiB of text: the most a script may hand back

_BIG_EXCHANGE = 256 * 1024
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


class ScriptRunaway(EngineError):
    """A script ran past the time or memory limit; the step must stop (not a JS error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ScriptResult:
    """What a script produced: its value (JS-like Python), `setVariable` calls, or an error."""

    value: Any = UNDEFINED
    error: str | None = None
    set_calls: list[tuple[str, Any]] = field(default_factory=list)
    too_large: bool = False


# The harness installed once per engine. `__sc_run` takes a JSON request and returns JSON text:
# {"ok": true, "value": <encoded>, "sets": [[name, <encoded>], ...]} or {"ok": false, "error"}.
# Values are encoded so undefined, NaN, ±Infinity and -0 survive JSON.
_HARNESS = r"""
(() => {
  const RealDate = Date;
  const state = { now: 0, rand: [1, 2, 3, 4] };
  function nextRandom() {
    // sfc32: small, fast, good enough for Math.random, and fully determined by its seed.
    let [a, b, c, d] = state.rand;
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    state.rand = [a, b, c, d];
    return t / 4294967296;
  }
  function FixedDate(...args) {
    if (!new.target) return new RealDate(state.now).toString();
    const used = args.length === 0 ? [state.now] : args;
    return Reflect.construct(RealDate, used, new.target);
  }
  Object.defineProperty(FixedDate, "prototype", { value: RealDate.prototype });
  Object.defineProperty(RealDate.prototype, "constructor", { value: FixedDate });
  FixedDate.now = () => state.now;
  FixedDate.UTC = RealDate.UTC;
  FixedDate.parse = RealDate.parse;
  Object.defineProperty(FixedDate, "name", { value: "Date" });
  const formatProto = Intl.DateTimeFormat.prototype;
  const realFormat = Object.getOwnPropertyDescriptor(formatProto, "format").get;
  const realFormatToParts = formatProto.formatToParts;
  Object.defineProperty(formatProto, "format", {
    get() {
      const bound = realFormat.call(this);
      return (date) => bound(date === undefined ? state.now : date);
    },
  });
  formatProto.formatToParts = function (date) {
    return realFormatToParts.call(this, date === undefined ? state.now : date);
  };
  Math.random = nextRandom;
  globalThis.setTimeout = undefined;
  globalThis.clearTimeout = undefined;
  globalThis.__timer_manager = undefined;
  delete globalThis.SharedArrayBuffer;
  delete globalThis.Atomics;
  delete globalThis.WebAssembly;
  globalThis.Date = FixedDate;

  const AsyncFunction = (async function () {}).constructor;
  function encode(value, seen) {
    if (value === undefined) return { u: 1 };
    if (typeof value === "number") {
      if (Number.isNaN(value)) return { n: "NaN" };
      if (!Number.isFinite(value)) return { n: value > 0 ? "Infinity" : "-Infinity" };
      return value;
    }
    if (typeof value === "bigint") return { e: "TypeError: Do not know how to serialize a BigInt" };
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (Array.isArray(value)) return { a: value.map((item) => encode(item, seen)) };
    let text;
    try { text = JSON.stringify(value); } catch (err) { return { e: String(err) }; }
    return text === undefined ? { u: 1 } : { j: text };
  }
  function describe(err) {
    try {
      return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    } catch (e) {
      return "an uncaught value";
    }
  }
  const baseline = new Set(Reflect.ownKeys(globalThis));
  function cleanGlobals() {
    for (const key of Reflect.ownKeys(globalThis)) {
      if (!baseline.has(key)) { try { delete globalThis[key]; } catch (err) {} }
    }
  }
  let outcome = null;
  function decodeArg(value) {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return value.u ? undefined : Number(value.n);
    }
    return value;
  }
  function run(request) {
    cleanGlobals();
    const req = JSON.parse(request);
    state.now = req.now;
    state.rand = req.seed;
    const sets = [];
    const setVariable = (name, value) => { sets.push([String(name), encode(value)]); };
    outcome = null;
    let fn;
    try {
      fn = new AsyncFunction("setVariable", ...req.names, req.body);
    } catch (err) {
      outcome = JSON.stringify({ ok: false, error: describe(err), sets });
      return null;
    }
    const settle = (ok, payload) => {
      cleanGlobals();
      if (!ok) {
        outcome = JSON.stringify({ ok: false, error: describe(payload), sets });
        return;
      }
      if (typeof payload === "string" && payload.length > req.limit) {
        outcome = JSON.stringify({ ok: false, tooLarge: true, error: "the value is too large", sets });
        return;
      }
      const text = JSON.stringify({ ok: true, value: encode(payload), sets });
      outcome = text.length > req.limit * 2
        ? JSON.stringify({ ok: false, tooLarge: true, error: "the value is too large", sets })
        : text;
    };
    try {
      fn(setVariable, ...req.values.map(decodeArg)).then((v) => settle(true, v), (e) => settle(false, e));
    } catch (err) {
      settle(false, err);
    }
    return null;
  }
  function result() {
    return outcome === null ? JSON.stringify({ ok: false, error: "the script never finished (a promise that never settles)" }) : outcome;
  }
  Object.defineProperty(globalThis, "__sc_run", { value: run });
  Object.defineProperty(globalThis, "__sc_result", { value: result });
  // Freeze the global namespaces and constructors (not their prototypes, so scripts that
  // give their own objects a toString still work) and make every global binding read-only.
  for (const key of Reflect.ownKeys(globalThis)) {
    const desc = Object.getOwnPropertyDescriptor(globalThis, key);
    if (!desc) continue;
    const value = desc.value;
    if (value !== globalThis && value !== null && (typeof value === "object" || typeof value === "function")) {
      Object.freeze(value);
    }
    if (desc.configurable) {
      Object.defineProperty(globalThis, key, { ...desc, configurable: false, ...("value" in desc ? { writable: false } : {}) });
    }
  }
  return Reflect.ownKeys(globalThis).length;
})()
"""


class _Engine:
    """One V8 context, created on first use, with the harness installed."""

    def __init__(self) -> None:
        from py_mini_racer import MiniRacer  # heavy: imported only when a flow has code

        self.racer = MiniRacer()
        self.racer.eval(_HARNESS)
        self.run_function: Any = self.racer.eval("__sc_run")
        atexit.register(self.close)

    def close(self) -> None:
        self.racer.close()

    def _collect(self) -> None:
        try:
            self.racer.low_memory_notification()
        except Exception:  # collecting is an optimisation; a failure must not hide the real one
            pass

    def run(self, request: str) -> str:
        from py_mini_racer._exc import (
            JSOOMException,
            JSTerminatedException,
            JSTimeoutException,
            MiniRacerBaseException,
        )

        try:
            # The soft limit makes V8 collect garbage early, so the hard limit (which ends the
            # script) is reached by a script's live data, not by its predecessors' garbage.
            self.racer.set_soft_memory_limit(MEMORY_LIMIT_BYTES // 2)
            self.racer.set_hard_memory_limit(MEMORY_LIMIT_BYTES)
            if len(request) > _BIG_EXCHANGE:  # a big text goes in as a value, not as source to compile
                self.run_function(request, timeout_sec=TIME_LIMIT_S)
            else:
                self.racer.eval(f"__sc_run({json.dumps(request)})", timeout_sec=TIME_LIMIT_S)
            text = self.racer.eval("__sc_result()", timeout_sec=TIME_LIMIT_S)
        except JSTimeoutException as exc:
            self._collect()
            raise ScriptRunaway(f"ran longer than {TIME_LIMIT_S:g} s") from exc
        except (JSOOMException, JSTerminatedException) as exc:  # V8 ends a script at the heap limit
            self._collect()  # the hog's garbage must not count against the next script
            raise ScriptRunaway(f"used more than {MEMORY_LIMIT_BYTES // (1024 * 1024)} MB") from exc
        except MiniRacerBaseException as exc:  # anything else the engine reports: a script error
            return json.dumps({"ok": False, "error": f"Error: {exc}"})
        if len(request) + len(str(text)) > _BIG_EXCHANGE:
            # Large texts crossed the boundary: collect now, so garbage from one evaluation
            # never counts against the next one's memory limit.
            self.racer.low_memory_notification()
        return str(text)


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _make_engine() -> _Engine:
    """Start V8 with its time zone pinned to UTC (replayable dates).

    V8 is initialised in the calling thread (initialised in a thread that then ends, it
    crashes at exit). Inside a running asyncio loop (the TUI) the context is built in a helper
    thread: mini-racer would otherwise adopt that loop and then refuse timeouts.
    """
    import asyncio

    from py_mini_racer import init_mini_racer

    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    try:
        init_mini_racer(ignore_duplicate_init=True)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _Engine()
        box: list[_Engine | BaseException] = []

        def build() -> None:
            try:
                box.append(_Engine())
            except BaseException as exc:  # handed to the caller's thread
                box.append(exc)

        thread = threading.Thread(target=build, name="steadychat-js-start")
        thread.start()
        thread.join()
        made = box[0]
        if isinstance(made, BaseException):
            raise made
        return made
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _make_engine()
        return _engine


def engine_started() -> bool:
    """Whether V8 has been started in this process (tests check that plain flows never do)."""
    return _engine is not None


def seed_words(seed_text: str) -> list[int]:
    """Four 32-bit words for the script's Math.random, from the caller's seed text."""
    digest = hashlib.sha256(seed_text.encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def run_script(
    body: str,
    args: list[tuple[str, Any]],
    *,
    now: datetime,
    seed_text: str,
) -> ScriptResult:
    """Run `body` as an async function with `setVariable` and one parameter per (id, value).

    Raises ScriptRunaway past the limits. A JS error (syntax, reference, thrown value, an id
    that is not a valid parameter name) is returned as `error`, as Typebot reports it.
    """
    names = [name for name, _ in args]
    if any(not _IDENT.match(name) for name in names):
        return ScriptResult(error="SyntaxError: a variable id is not a valid parameter name")
    request = json.dumps(
        {
            "body": body,
            "names": names,
            "values": [_to_json(value) for _, value in args],
            "now": now.timestamp() * 1000,
            "seed": seed_words(seed_text),
            "limit": VALUE_LIMIT_CHARS,
        },
        ensure_ascii=False,
    )
    with _engine_lock:
        engine = _engine
    text = (engine or _get_engine()).run(request)
    reply = json.loads(text)
    sets = [(name, _decode(value)) for name, value in reply.get("sets", [])]
    if not reply["ok"]:
        return ScriptResult(error=str(reply["error"]), set_calls=sets, too_large=bool(reply.get("tooLarge")))
    return ScriptResult(value=_decode(reply["value"]), set_calls=sets)


def _to_json(value: Any) -> Any:
    """A guessed-type value as JSON for the harness (undefined and ±Infinity need a marker)."""
    if value is UNDEFINED:
        return {"u": 1}
    if isinstance(value, float) and not math.isfinite(value):
        return {"n": str(value).replace("inf", "Infinity").replace("nan", "NaN")}
    return value


def _decode(value: Any) -> Any:
    """The harness's encoding back to JS-like Python values (UNDEFINED, NaN, lists, JSON text)."""
    if isinstance(value, dict):
        if "u" in value:
            return UNDEFINED
        if "n" in value:
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value["n"]]
        if "a" in value:
            return [_decode(item) for item in value["a"]]
        if "j" in value:
            return JsonText(value["j"])
        if "e" in value:
            return JsonText("null")
    return value


class JsonText(str):
    """An object's JSON.stringify text, kept apart from a plain string result."""
