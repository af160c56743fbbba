#!/usr/bin/env python3
"""crash.py - the durable actors' crash test (docs/durability.md).

    python3 crash.py ROUNDS        (CMake passes THEATER and TALLY in the environment)

A real `theater server` on a fresh home runs five tally actors (tally.c):
two sinks, a hub, and two relays that are children of the hub.  In each
round, client threads send one-way messages over the API (unique tags;
a message to a relay is forwarded by it to a sink, so messages also go
between actors), and the daemon is killed with SIGKILL at a random moment.
The next daemon must bring every actor back (same id, same parent) before it
answers.  After the last round the load is drained, the daemon stopped with
SIGTERM and brought back once more (the clean path), and then:

  - every chain verifies (`theater chain verify`) and replays identically
    (`theater replay`: the recorded code re-run on the recorded inputs
    produces every recorded event, across the interrupted operations);
  - every actor's state (GET .../state) equals the state its own chain
    ends with, and equals the number of messages its chain shows handled
    (each handled message adds one: the chain replays to that count);
  - every tag the API acknowledged (202) was handled exactly once by its
    receiver; no tag was handled twice (also those never acknowledged);
  - every tag a relay handled was forwarded and handled exactly once by
    its sink.

Exit 0 and a line of figures on success; 1 with the first problem.
"""
import http.client
import json
import os
import random
import shutil
import sys
import threading
import time

import daemon_driver as d
from daemon_driver import api, events, fail

CUT = [0]
TALLY = os.environ["TALLY"]
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
CLIENTS = 4
SEED = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
d.NOTE = "seed %d, " % SEED
d.API_TIMEOUT = 10


def spawn(parent=None):
    body = {"manifest": MANIFEST}
    if parent:
        body["parent"] = parent
    st, b = api("POST", "/v1/actors", body)
    if st != 201:
        fail("start: HTTP %d %s" % (st, b))
    return json.loads(b)["id"]


def check_actors():
    """Every actor is back with its parent, before any request was served."""
    st, b = api("GET", "/v1/actors")
    if st != 200:
        fail("list: HTTP %d" % st)
    got = {a["id"]: a for a in json.loads(b)["actors"]}
    for aid, parent in PARENT.items():
        if aid not in got:
            fail("actor %s was not brought back" % aid)
        if (got[aid]["parent"] or None) != parent:
            fail("actor %s came back with parent %s, not %s" % (aid, got[aid]["parent"], parent))
    if len(got) != len(PARENT):
        fail("%d actors after the restart, expected %d" % (len(got), len(PARENT)))


def client(stop, rnd, idx):
    """Send tagged messages until stopped or the daemon is gone."""
    conn = None
    n = 0
    while not stop.is_set():
        tag = "t%d.%d.%d" % (rnd, idx, n)
        n += 1
        # a relay's operation is slow (a stored send, then work): a fifth of
        # the load goes to them, so their backlog stays drainable
        if random.random() < 0.2:
            target = random.choice(sorted(RELAYS))
        else:
            target = random.choice([a for a in ALL if a not in RELAYS])
        if target in RELAYS:
            sink = random.choice(SINKS)
            body = ("F %s %s" % (sink, tag)).encode()
            FORWARD[tag] = sink
        else:
            body = tag.encode()
        RECEIVER[tag] = target
        try:
            if conn is None:
                conn = d.UnixConn(d.SOCK, 10)
            conn.request("POST", "/v1/actors/%s/messages" % target, body=body)
            r = conn.getresponse()
            r.read()
            if r.status == 202:
                with LOCK:
                    ACKED.add(tag)
            elif r.status != 503:
                fail("message: HTTP %d" % r.status)
        except (OSError, http.client.HTTPException):
            return  # the daemon was killed
    if conn is not None:
        conn.close()


def run_load(rnd, seconds):
    stop = threading.Event()
    ts = [threading.Thread(target=client, args=(stop, rnd, i)) for i in range(CLIENTS)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    return stop, ts


def handled(evs):
    """(tags handled by committed handle-send operations in chain order,
    the state the chain ends with)."""
    tags, call, state = [], None, None
    for e in evs:
        d = e.get("data") or {}
        t = e["event_type"]
        if t == "wasm-call" and d.get("function") == "handle-send":
            tag = bytes.fromhex(d["params"][0]).decode().split(" ")[-1]
            if "result" in d:
                tags.append(tag)
                state = d["result"]["state"]
                call = None
            else:
                call = tag
        elif t == "wasm-call" and "result" in d:
            state = d["result"]["state"]
        elif t == "wasm-result":
            if d.get("function") == "handle-send":
                if call is None:
                    fail("a handle-send result without its call in %s" % e["actor"])
                tags.append(call)
            state = d["state"]
            call = None
        elif t in ("actor-restored", "actor-stopped"):
            if call is not None:
                CUT[0] += 1  # an operation the daemon's end interrupted
            if t == "actor-restored":
                state = d["state"]
            call = None
        elif t in ("actor-spawned", "actor-restarted"):
            state = d["init_state"]
    return tags, state


def main():
    global MANIFEST, PARENT, ALL, RELAYS, SINKS, FORWARD, RECEIVER, ACKED, LOCK
    random.seed(SEED)
    home = d.new_home("theater-crash-")
    MANIFEST = os.path.join(home, "tally.toml")
    shutil.copy(TALLY, os.path.join(home, "tally.wasm"))
    with open(MANIFEST, "w") as f:
        f.write('name = "tally"\nversion = "1.0.0"\ncomponent = "tally.wasm"\n'
                '[[handler]]\ntype = "runtime"\n[[handler]]\ntype = "message-server"\n')
    FORWARD, RECEIVER, ACKED, LOCK = {}, {}, set(), threading.Lock()
    CUT[0] = 0
    t_start = time.time()
    d.start_daemon(within=20)
    sinks = [spawn(), spawn()]
    hub = spawn()
    relays = [spawn(hub), spawn(hub)]
    PARENT = {sinks[0]: None, sinks[1]: None, hub: None, relays[0]: hub, relays[1]: hub}
    ALL, RELAYS, SINKS = sinks + [hub] + relays, set(relays), sinks
    restart_times = []
    for rnd in range(ROUNDS):
        stop, ts = run_load(rnd, random.uniform(0.05, 0.4))
        d.kill_daemon()
        stop.set()
        for t in ts:
            t.join()
        restart_times.append(d.start_daemon(within=20))
        check_actors()
    # drain: relays first (their forwards are in the sinks' mailboxes once
    # each relay has answered), then everyone
    for aid in relays + [hub] + sinks:
        st, b = api("POST", "/v1/actors/%s/requests?timeout_ms=600000" % aid, b"count",
                    timeout=620)
        if st != 200:
            fail("request to %s: HTTP %d %s" % (aid, st, b))
    states = {}
    for aid in ALL:
        st, b = api("GET", "/v1/actors/%s/state" % aid)
        if st != 200:
            fail("state of %s: HTTP %d" % (aid, st))
        states[aid] = b
    rc = d.stop_daemon()
    if rc != 0:
        fail("the daemon exited %d on SIGTERM" % rc)
    d.start_daemon(within=20)  # the clean path: SIGTERM, then back
    check_actors()
    for aid in ALL:
        st, b = api("GET", "/v1/actors/%s/state" % aid)
        if b != states[aid]:
            fail("%s came back from SIGTERM with state %r, not %r" % (aid, b, states[aid]))
    d.stop_daemon()
    # the state its chain replays to: every event reproduced by re-running
    # the recorded code (docs/replay.md)
    d.verify_and_replay(ALL)
    seen = {}
    total = 0
    for aid in ALL:
        tags, state = handled(events(aid))
        if state is None or bytes.fromhex(state) != states[aid]:
            fail("%s: state %r, but its chain ends with %r" % (aid, states[aid], state))
        if int(states[aid] or b"0") != len(tags):
            fail("%s: state %r, but its chain shows %d messages handled"
                 % (aid, states[aid], len(tags)))
        for tag in tags:
            seen.setdefault(tag, []).append(aid)
        total += len(tags)
    for tag, who in seen.items():
        want = 2 if tag in FORWARD and FORWARD[tag] in who and RECEIVER[tag] in who else 1
        if len(who) > want:
            fail("tag %s handled %d times (%s)" % (tag, len(who), who))
    for tag in ACKED:
        who = seen.get(tag, [])
        if RECEIVER[tag] not in who:
            fail("acknowledged message %s to %s was never handled" % (tag, RECEIVER[tag]))
        if who.count(RECEIVER[tag]) != 1:
            fail("acknowledged message %s handled %d times" % (tag, who.count(RECEIVER[tag])))
    forwarded = 0
    for tag, sink in FORWARD.items():
        if RECEIVER[tag] in seen.get(tag, []):
            forwarded += 1
            if seen[tag].count(sink) != 1:
                fail("message %s, handled by relay %s, reached sink %s %d times"
                     % (tag, RECEIVER[tag], sink, seen[tag].count(sink)))
    restart_times.sort()
    print("crash test: %d rounds of kill -9, %d messages acknowledged, %d handled "
          "(%d forwarded between actors), %d operations interrupted and run again, restart "
          "median %.0f ms max %.0f ms, %.1f s (seed %d)" % (ROUNDS, len(ACKED), total, forwarded,
                                                             CUT[0],
                         1000 * restart_times[len(restart_times) // 2],
                         1000 * restart_times[-1], time.time() - t_start, SEED))
    shutil.rmtree(home)


if __name__ == "__main__":
    main()
