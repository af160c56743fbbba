#!/usr/bin/env python3
"""once.py - delivery across a kill -9 of the daemon for what crash.py does
not load (docs/durability.md, "Delivery across a crash").

    python3 once.py        (CMake passes THEATER, TALLY and ONCE in the environment)

A real `theater server` runs a sink (tally.c: counts the one-way messages
it handles, answers a request with the count) and a boss (once.c, with a
one-for-one [supervision]) whose child's init sends "init" to the sink and
then holds.  Where once.c holds, it waits for as long as the file HOME/hold
exists: the test creates it before it starts the operation and removes it
after the kill and the restart, so each kill lands inside the operation it
is about, on any machine and in any build (a slow sanitizer build, a loaded
machine): the test is deterministic and never skips.

1. Sends of an init that runs again are delivered exactly once.  The boss
   makes its child crash; the strategy restarts it; its init sends "init"
   (the sink counts it) and holds.  The daemon is killed (SIGKILL) during
   the hold, so after the restart the init runs again (its chain shows
   actor-restored with init to run) and sends again.  The sink must have
   handled exactly one "init" per incarnation of the child: 2, not 3.
2. A request made by an operation that runs again is made again (at least
   once).  The boss handles a stored message "ask" by a request to the sink
   and holds; the daemon is killed during the hold, so the operation runs
   again after the restart and asks again: the sink's chain shows the
   request handled twice, the boss's chain the message handled once.

3. A failed child whose supervisor (a handle-child-error that holds before
   restarting it) had not decided at the kill comes back failed and is
   decided once, after the restart.
4. An actor with a 36 MiB state (its events over 64 MiB: by content
   reference) is brought back with that state.
5. A channel message whose handling the kill cuts is not handled again
   (at most once), and the channel is gone after the restart.
6. A deferred answer is given at most once.  A requester's stored "ask"
   makes a request to a deferrer, whose handle-request answers later (it
   keeps the request id in its state); the daemon is killed while the
   requester waits.  After the restart the requester's operation runs again
   and asks again; then the deferrer answers every id it kept: the
   request of the killed run must not be answered (respond-to-request
   fails: "no such outstanding request"), the new one is, and the
   requester gets exactly one answer.

Then every chain verifies and replays identically.  Exit 0 and a line of
figures; 1 with the first problem.
"""
import json
import os
import shutil
import time

import daemon_driver as d
from daemon_driver import api, events, fail, kill_daemon, start_daemon

TALLY = os.environ["TALLY"]
ONCE = os.environ["ONCE"]
# A hold runs inside one call (an init, a handle-send), which must not be
# cut by the default 30 s call timeout on a loaded machine.
LIMITS = '[limits]\ncall_timeout_ms = 600000\n'
HANDLERS = '[[handler]]\ntype = "runtime"\n[[handler]]\ntype = "message-server"\n'
# (a restore of the 36 MiB state takes minutes in a sanitizer build)
d.START_WITHIN = 300


def calls(evs, function, param=None, done=True):
    """wasm-calls of `function` (with that first parameter), completed ones
    only when `done` (a result in the call or a wasm-result after it)."""
    n, open_call = 0, False
    for e in evs:
        d = e.get("data") or {}
        t = e["event_type"]
        if t == "wasm-call" and d.get("function") == function:
            p = d.get("params") or []
            if param is not None and (not p or bytes.fromhex(p[0]) != param):
                open_call = False
                continue
            if "result" in d or not done:
                n += 1
                open_call = False
            else:
                open_call = True
        elif t == "wasm-result" and open_call:
            n += 1
            open_call = False
        elif t not in ("host-call", "supervisor-action"):
            open_call = False
    return n


def sink_count():
    st, b = api("GET", "/v1/actors/%s/state" % SINK)
    if st != 200:
        fail("state of the sink: HTTP %d %s" % (st, b))
    return int(b or b"0")


def wait_for(what, cond, seconds=60):
    t0 = time.time()
    while not cond():
        if time.time() - t0 > seconds:
            fail("timed out waiting for %s" % what)
        time.sleep(0.005)


def status(aid):
    st, b = api("GET", "/v1/actors/%s" % aid)
    return json.loads(b).get("status") if st == 200 else None


def drain(aid):
    st, b = api("POST", "/v1/actors/%s/requests?timeout_ms=120000" % aid, b"count", timeout=130)
    if st != 200:
        fail("request to %s: HTTP %d %s" % (aid, st, b))
    return b


def hold(on):
    """Create (on) or remove the file the actors hold on."""
    path = os.path.join(d.HOME, "hold")
    if on:
        open(path, "w").close()
    elif os.path.exists(path):
        os.unlink(path)


def holds():
    """The handlers a held actor needs: timing, and the home to find the
    hold file in."""
    return '[[handler]]\ntype = "timing"\n[[handler]]\ntype = "filesystem"\npath = "%s"\n' % d.HOME


def start_once(name, state, extra):
    """Start once.wasm as actor "once-NAME" with the initial state `state`
    (the file NAME.state), the runtime, message-server, supervisor and
    hold handlers and the TOML `extra`; its id."""
    with open(os.path.join(d.HOME, name + ".state"), "w") as f:
        f.write(state)
    path = os.path.join(d.HOME, name + ".toml")
    with open(path, "w") as f:
        f.write('name = "once-%s"\nversion = "1.0.0"\ncomponent = "once.wasm"\n'
                'init_state = "%s.state"\n' % (name, name) + HANDLERS +
                '[[handler]]\ntype = "supervisor"\n' + holds() + extra)
    st, b = api("POST", "/v1/actors", {"manifest": path})
    if st != 201:
        fail("start %s: HTTP %d %s" % (name, st, b))
    return json.loads(b)["id"]


def main():
    global SINK
    HOME = d.new_home("theater-once-")
    shutil.copy(TALLY, os.path.join(HOME, "tally.wasm"))
    shutil.copy(ONCE, os.path.join(HOME, "once.wasm"))
    with open(os.path.join(HOME, "tally.toml"), "w") as f:
        f.write('name = "tally"\nversion = "1.0.0"\ncomponent = "tally.wasm"\n' + HANDLERS)
    child_manifest = os.path.join(HOME, "child.toml")
    with open(child_manifest, "w") as f:
        f.write('name = "once-child"\nversion = "1.0.0"\ncomponent = "once.wasm"\n' + HANDLERS +
                '[[handler]]\ntype = "supervisor"\n' + holds() + LIMITS)
    start_daemon()
    st, b = api("POST", "/v1/actors", {"manifest": os.path.join(HOME, "tally.toml")})
    if st != 201:
        fail("start sink: HTTP %d %s" % (st, b))
    SINK = json.loads(b)["id"]
    boss = start_once("boss", "boss %s %s hold" % (child_manifest, SINK),
                      '[supervision]\nstrategy = "one-for-one"\nmax_restarts = 10\n'
                      'within_seconds = 60\n' + LIMITS)
    st, b = api("GET", "/v1/actors/%s/state" % boss)
    child = b.decode().split(" ")[1]
    wait_for("the child's first init", lambda: status(child) == "running")
    # (the init's send may still be on its way to the sink)
    wait_for("the sink to handle the first init's send", lambda: sink_count() >= 1)
    if sink_count() != 1:
        fail("the sink handled %d messages after the child's first init" % sink_count())

    # 1. the restarted child's init, cut by the kill after its send
    hold(True)
    st, b = api("POST", "/v1/actors/%s/messages" % boss, b"crash")
    if st != 202:
        fail("crash: HTTP %d %s" % (st, b))
    wait_for("the restarted init's send", lambda: sink_count() >= 2)
    kill_daemon()
    start_daemon()
    hold(False)
    wait_for("the child to run again", lambda: status(child) == "running")
    got = int(drain(SINK))
    evs = events(child)
    restored = [e for e in evs if e["event_type"] == "actor-restored"]
    if not restored or not restored[-1]["data"].get("init"):
        fail("the child came back without its init to run again: the kill did not land "
             "inside the held init")
    incarnations = sum(1 for e in evs if e["event_type"] in ("actor-spawned", "actor-restarted"))
    inits = calls(evs, "init", done=False)
    if got != incarnations:
        fail("the sink handled %d \"init\" messages from %d incarnations of the child (%d runs "
             "of init): a re-run init sent twice" % (got, incarnations, inits))

    # 2. a request from an operation cut by the kill after it
    asked = calls(events(SINK), "handle-request")
    hold(True)
    st, b = api("POST", "/v1/actors/%s/messages" % boss, b"ask")
    if st != 202:
        fail("ask: HTTP %d %s" % (st, b))
    wait_for("the request", lambda: calls(events(SINK), "handle-request") > asked)
    cut_ask = calls(events(boss), "handle-send", b"ask") == 0
    kill_daemon()
    start_daemon()
    hold(False)
    drain(boss)  # the re-run "ask" has been handled
    requests = calls(events(SINK), "handle-request") - asked
    asks = calls(events(boss), "handle-send", b"ask")
    if asks != 1:
        fail("the boss handled \"ask\" %d times" % asks)
    if not cut_ask:
        fail("the \"ask\" operation had ended before the kill, though it was held")
    if requests != 2:
        fail("the sink handled the request of the re-run operation %d times, expected 2 (made "
             "again by the re-run)" % requests)

    # 3. a failed child whose supervisor had not decided at the kill
    guard = start_once("guard", "guard %s %s hold" % (child_manifest, SINK), LIMITS)
    st, b = api("GET", "/v1/actors/%s/state" % guard)
    ward = b.decode().split(" ")[1]
    wait_for("the guard's child", lambda: status(ward) == "running")
    hold(True)
    st, b = api("POST", "/v1/actors/%s/messages" % guard, b"crash")
    if st != 202:
        fail("crash: HTTP %d %s" % (st, b))
    wait_for("the failure", lambda: status(ward) == "failed")
    # the guard is deciding: its handle-child-error is on the chain (its
    # first host call, the hold, records it) and has not returned
    wait_for("the guard's decision to begin",
             lambda: calls(events(guard), "handle-child-error", done=False) >= 1)
    cut_decision = calls(events(guard), "handle-child-error") == 0
    kill_daemon()
    start_daemon()
    hold(False)
    if status(ward) is None:
        fail("the failed child %s was not brought back" % ward)
    wait_for("the guard's child to be restarted", lambda: status(ward) == "running")
    wevs = events(ward)
    types = [e["event_type"] for e in wevs]
    if "actor-restarted" not in types:
        fail("the guard's child runs again without a restart: %s" % types)
    decisions = calls(events(guard), "handle-child-error")
    if not cut_decision:
        fail("the guard's decision had ended before the kill, though it was held")
    if decisions != 1:
        fail("the guard decided %d times about one failure" % decisions)

    # 4. a state over 64 MiB of event data (recorded by content reference)
    big = start_once("big", "big", '[limits]\nmemory_bytes = 268435456\ncall_timeout_ms = 600000\n')
    st, b = api("POST", "/v1/actors/%s/messages" % big, b"grow 36")
    if st != 202:
        fail("grow: HTTP %d %s" % (st, b))
    before = drain(big)  # handled, and its event durable
    if not before.startswith(b"%d " % (36 << 20)):
        fail("the big state is %r" % before)
    kill_daemon()
    start_daemon()
    if status(big) != "running":
        fail("the actor with a %d-byte state was not brought back: %s" % (36 << 20, status(big)))
    after = drain(big)
    if after != before:
        fail("the big state came back as %r, not %r" % (after, before))

    # 5. a channel message whose handling the kill cuts: at most once
    chan_actor = start_once("chan", "chan hold", LIMITS)
    st, b = api("POST", "/v1/actors/%s/channels" % chan_actor, b"hello")
    if st != 201:
        fail("open channel: HTTP %d %s" % (st, b))
    ch = json.loads(b)["channel"]
    hold(True)
    st, b = api("POST", "/v1/channels/%s/messages" % ch, b"m1")
    if st not in (200, 202, 204):
        fail("channel message: HTTP %d %s" % (st, b))
    wait_for("the channel message's handling",
             lambda: calls(events(chan_actor), "handle-channel-message", done=False) == 1)
    cut_chan = calls(events(chan_actor), "handle-channel-message") == 0
    kill_daemon()
    start_daemon()
    hold(False)
    drain_chan = api("POST", "/v1/channels/%s/messages" % ch, b"m2")[0]
    # a request is handled after everything queued before it (a re-run of
    # m1 too), and answered once its events are durable
    drain(chan_actor)
    cevs = events(chan_actor)
    chan_runs = calls(cevs, "handle-channel-message", done=False)
    if drain_chan < 400:
        fail("the channel %s is still open after the restart (HTTP %d)" % (ch, drain_chan))
    if not cut_chan:
        fail("the channel message's handling had ended before the kill, though it was held")
    if chan_runs != 1 or calls(cevs, "handle-channel-message") != 0:
        fail("a channel message cut by the kill ran %d times (%d completed): not at most once"
             % (chan_runs, calls(cevs, "handle-channel-message")))

    # 6. a deferred answer across the kill: at most once
    deferrer = start_once("defer", "defer", LIMITS)
    requester = start_once("req", "req %s" % deferrer, LIMITS)
    st, b = api("POST", "/v1/actors/%s/messages" % requester, b"ask")
    if st != 202:
        fail("ask: HTTP %d %s" % (st, b))
    # the deferral is durable (its result is on the chain); the requester
    # waits for an answer that only "answer" gives
    wait_for("the deferral", lambda: calls(events(deferrer), "handle-request") == 1)
    kill_daemon()
    start_daemon()
    wait_for("the request of the re-run", lambda: calls(events(deferrer), "handle-request") == 2)
    st, b = api("POST", "/v1/actors/%s/messages" % deferrer, b"answer")
    if st != 202:
        fail("answer: HTTP %d %s" % (st, b))
    drain(requester)  # its re-run "ask" got its answer
    devs = events(deferrer)
    ids = [e["data"]["params"][0] for e in devs
           if e["event_type"] == "wasm-call" and e["data"].get("function") == "handle-request"]

    def logs(evs, prefix):
        return [e["data"]["input"]["msg"] for e in evs
                if e["event_type"] == "host-call" and e["data"].get("function") == "log" and
                e["data"]["input"]["msg"].startswith(prefix)]
    responds = logs(devs, "respond ")
    if len(ids) != 2 or len(responds) != 2:
        fail("the deferrer had %d requests and answered %d: %s" % (len(ids), len(responds),
                                                                    responds))
    if not responds[0].startswith("respond %s failed:" % ids[0]) or \
            "no such outstanding request" not in responds[0]:
        fail("the request of the killed run was answered after the restart (%s): a deferred "
             "answer delivered to a request the daemon had dropped" % responds[0])
    if responds[1] != "respond %s ok" % ids[1]:
        fail("the request of the re-run was not answered: %s" % responds[1])
    revs = events(requester)
    answers = logs(revs, "answer: ")
    asks_done = calls(revs, "handle-send", b"ask")
    if answers != ["answer: answered"] or asks_done != 1:
        fail("the requester got %s in %d completed \"ask\" operations: not exactly one answer"
             % (answers, asks_done))

    d.stop_daemon()
    d.verify_and_replay((SINK, boss, child, guard, ward, big, chan_actor, deferrer, requester))
    print("once: init re-run after kill -9: %d runs of init in %d incarnations, sink handled %d "
          "(exactly once); request re-made by a re-run operation: handled %d times; failed child "
          "restored and restarted by its supervisor's decision after the kill; a %d-byte state "
          "(recorded by content reference) restored; a channel message cut by the kill: not run "
          "again, the channel gone (HTTP %d); a deferred answer: the killed run's request not "
          "answered after the restart (%s), the re-run's answered once"
          % (inits, incarnations, got, requests, 36 << 20, drain_chan, responds[0]))
    shutil.rmtree(HOME)


if __name__ == "__main__":
    main()
