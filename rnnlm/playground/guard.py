"""What the server refuses before a handler runs: oversized requests, calls missing inputs, and a session's
requests beyond its share of the queue. Each refusal is a clear message, never a traceback.

    BodyLimit              ASGI middleware: a request body over MAX_REQUEST_BYTES gets 413 before it is parsed
    launch_options()       the launch settings that bound memory (the middleware, the session capacity)
    guard_queue(queue, id) refuse at the queue's door: calls missing inputs, and more than MAX_WAITING_PER_SESSION
                           waiting requests of one session in concurrency group `id`; visitors' waiting requests
                           take turns instead of first come, first served; and no time estimates for group `id`

Nothing here imports gradio: it wraps the objects gradio hands over (an ASGI app, the Blocks' queue).
"""
from __future__ import annotations

import asyncio
import inspect
import json
from collections import defaultdict

from .inputs import MAX_PROMPT, MAX_SCORE

# The largest legitimate call is a 5,000-character score text; JSON writes an emoji as two \uXXXX escapes
# (12 bytes), so it takes at most 60 KB. Bigger bodies are refused unread: a 10 MB prompt used to be parsed,
# queued and kept (about 10 MB of memory each), only for the app to use its last 2,000 characters.
MAX_REQUEST_BYTES = 256 * 1024
# gradio keeps each session's copy of the page config (about 150 KB here) until this many newer sessions
# push it out; its default of 10,000 is 1.5 GB. The app keeps no gr.State, so an evicted session loses nothing.
SESSION_CAPACITY = 100
# Requests one session may have waiting for the models (besides the one running): enough for a visitor who
# clicks Generate, then Compare; a client that queues more would make everyone else wait behind it.
MAX_WAITING_PER_SESSION = 2


def too_large_message(size: int | None) -> str:
    """What a refused request is told; size is None for a body without Content-Length, stopped at the limit."""
    sent = f" ({size:,} bytes)" if size is not None else ""
    return (f"Request too large{sent}: this app takes at most {MAX_REQUEST_BYTES:,} bytes per request (prompts are "
            f"cut to their last {MAX_PROMPT:,} characters and score text to its first {MAX_SCORE:,} anyway).")


class BodyLimit:
    """ASGI middleware: answer 413 to a request whose body is over max_bytes, by its Content-Length or as it streams."""

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            return await self._refuse(send, int(length))
        received, started, refused = 0, False, False

        async def counting_receive():
            # A body without Content-Length (chunked) is counted as it arrives; past the limit the app is told
            # the client left (it stops reading), and the 413 goes out instead of whatever it answers.
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    refused = True
                    await self._refuse(send, None)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    @staticmethod
    async def _refuse(send, size: int | None) -> None:
        body = json.dumps({"detail": too_large_message(size)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def launch_options() -> dict:
    """Keyword arguments for Blocks.launch that bound the server's memory."""
    from starlette.middleware import Middleware  # gradio's web stack; imported here so the module stays light

    return dict(app_kwargs={"middleware": [Middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)]},
                state_session_capacity=SESSION_CAPACITY)


# --- the queue's door ------------------------------------------------------------------------------


def refusal(message: str, parameter: str) -> list[dict]:
    """A refusal in the shape gradio gives a failed validation: gradio_client raises it as a ValidationError
    with the message, the page shows it on the event's first input, and a raw call reads it as HTTP 422."""
    return [{"__type__": "validate", "is_valid": False, "message": message, "parameter_name": parameter}]


def input_names(fn) -> list[str]:
    """The names of an event's inputs: its handler's parameters, in order."""
    try:
        names = list(inspect.signature(fn.fn).parameters)
    except (TypeError, ValueError):
        names = []
    return names[: len(fn.inputs)] + [f"input {i + 1}" for i in range(len(names), len(fn.inputs))]


def optional_defaults(fn) -> list:
    """The defaults of the handler's trailing parameters that have one: inputs a call may leave out (options
    added to an endpoint after its first version, so older callers keep working)."""
    try:
        params = list(inspect.signature(fn.fn).parameters.values())[: len(fn.inputs)]
    except (TypeError, ValueError):
        return []
    defaults = []
    for p in reversed(params):
        if p.default is inspect.Parameter.empty:
            break
        defaults.insert(0, p.default)
    return defaults


def missing_inputs(fn, data) -> str | None:
    """Why a call's data does not fit the event's inputs, naming them; None when it does. A call that leaves
    out trailing optional inputs gets their defaults appended to data."""
    names, sent = input_names(fn), len(data) if isinstance(data, list) else 0
    optional = optional_defaults(fn)
    if len(names) - len(optional) <= sent < len(names):
        data.extend(optional[len(optional) - (len(names) - sent):])
        return None
    if sent == len(names):
        return None
    call = f"/{fn.api_name}" if fn.api_name else "this event"
    expected = f"{call} takes {len(names)} inputs, in this order: {', '.join(names)}"
    if sent < len(names):
        return f"{expected}; this call sent {sent}, so these are missing: {', '.join(names[sent:])}."
    return f"{expected}; this call sent {sent}."


def visitor(session: str | None, request) -> str:
    """Who is asking: the session, or for a call without one (a raw /call/...), the client's address."""
    if session is not None:
        return session
    forwarded = request.headers.get("x-forwarded-for", "") if request is not None else ""
    host = request.client.host if request is not None and request.client else "?"
    return "address " + (forwarded.split(",")[0].strip() or host)


def guard_queue(queue, concurrency_id: str, max_waiting: int = MAX_WAITING_PER_SESSION) -> None:
    """Wrap queue.push to refuse calls missing inputs, and a visitor's requests to concurrency_id beyond max_waiting."""
    push, lock = queue.push, asyncio.Lock()  # one push at a time: counting and queueing are then one step
    anonymous: dict[str, str] = {}  # event id -> visitor, for calls without a session (gradio gives each its own)

    def waiting(who: str) -> int:
        group = queue.event_queue_per_concurrency_id.get(concurrency_id)
        events = group.queue if group else []
        for gone in anonymous.keys() - {e._id for e in events}:
            del anonymous[gone]
        return sum(1 for e in events if anonymous.get(e._id, e.session_hash) == who)

    async def guarded_push(body, request, username=None):
        fn = queue.blocks.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is None:
            return await push(body=body, request=request, username=username)
        if why := missing_inputs(fn, body.data):
            return False, refusal(why, "inputs"), "validator_error"
        if fn.concurrency_id != concurrency_id:
            return await push(body=body, request=request, username=username)
        async with lock:
            who = visitor(body.session_hash, request)
            n = waiting(who)
            if n >= max_waiting:
                return False, refusal(
                    f"You already have {n} requests waiting; wait for one to finish before sending another "
                    f"(at most {max_waiting} per visitor, so that everyone gets a turn).", (input_names(fn) or ["request"])[0]), \
                    "validator_error"
            anonymous_call = body.session_hash is None
            ok, event_id, state = await push(body=body, request=request, username=username)
            if ok and anonymous_call:
                anonymous[event_id] = who
            if ok:
                take_turns(queue.event_queue_per_concurrency_id[concurrency_id].queue)
            return ok, event_id, state

    def take_turns(events: list) -> None:
        """Reorder the waiting events in place so visitors take turns: everyone's first waiting request before
        anyone's second. A light user's one request then waits behind at most one of a flooder's."""
        turn: dict[str, int] = {}
        keyed = []
        for i, e in enumerate(events):
            who = anonymous.get(e._id, e.session_hash)
            keyed.append((turn.get(who, 0), i, e))
            turn[who] = turn.get(who, 0) + 1
        events[:] = [e for *_, e in sorted(keyed, key=lambda k: k[:2])]

    queue.push = guarded_push
    queue.process_time_per_fn = Unestimated(concurrency_id, queue.process_time_per_fn)


class Unestimated(defaultdict):
    """gradio's record of each function's mean run time, which the page shows as the expected wait ("queue: 2/3 |
    1.2/2.7s"), with the functions of one concurrency group left out of sight. Their run time follows the length
    asked for and the number of models (one 300-character text or three of 2,000: 0.3 s or 8 s), so a mean of past
    calls is no estimate; without one the page shows the queue position and the time waited so far."""

    def __init__(self, concurrency_id: str, times: defaultdict):
        super().__init__(times.default_factory, times)
        self.concurrency_id = concurrency_id

    def __contains__(self, fn) -> bool:
        return getattr(fn, "concurrency_id", None) != self.concurrency_id and super().__contains__(fn)
