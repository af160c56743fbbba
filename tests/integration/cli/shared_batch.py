"""shared_batch.py THEATER SHARED_BATCH - `theater chain verify` of two
chains committed in the same batches (cli/shared_batch.c) after the last
event of one of them (B) was taken out of the last segment they share,
the segment's blob re-encoded with consistent check values and its
signature and signed leaves left as they were (tests/tools/thseg.py).

- Only the blob changed: verifying B alone fails with `missing event`
  (its recorded head is the event removed); A alone verifies.
- B's head row and index moreover set back to the event before: verifying
  every chain fails and names the segment that was signed over the heads
  of more chains than it holds; A, untouched, verifies alone.
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import thseg  # noqa: E402

T, HELPER = sys.argv[1], sys.argv[2]
N = 4
fails = 0


def fail(text):
    global fails
    print("FAIL " + text)
    fails += 1


def expect(name, home, args, status, words):
    p = subprocess.run([T, "--home", home] + args, capture_output=True, text=True)
    out = p.stdout + p.stderr
    if p.returncode != status:
        fail("%s: exit %d, expected %d: %s" % (name, p.returncode, status, out.strip()))
    elif words not in out:
        fail("%s: no %r in: %s" % (name, words, out.strip()))
    else:
        print("ok " + name)


def drop_tail(home, b, fix_head):
    """Take B's last event out of the last segment (it holds A's too)."""
    db = sqlite3.connect(os.path.join(home, "theater.db"))
    (last,) = db.execute("SELECT max(id) FROM chain_segment").fetchone()
    (blob,) = db.execute("SELECT events FROM chain_segment WHERE id = ?", (last,)).fetchone()
    actors, evs = thseg.parse(blob)
    if sorted(actors) != sorted([a_id, b]) or len(evs) != 2:
        raise SystemExit("FAIL: segment %d holds %r, expected one event of each chain"
                         % (last, actors))
    before = thseg.heads_before(db, last)
    keep = [e for e in evs if actors[e["actor"]] != b]
    rest = [a for a in actors if a != b]
    for e in keep:
        e["actor"] = rest.index(actors[e["actor"]])
    new, _ = thseg.encode(rest, keep, {i: before[a] for i, a in enumerate(rest)})
    db.execute("UPDATE chain_segment SET events = ? WHERE id = ?", (new, last))
    if fix_head:
        (bid,) = db.execute("SELECT id FROM chain_actor WHERE name = ?", (b,)).fetchone()
        db.execute("UPDATE chain_actor SET head_seq = ?, head_hash = ?, head_segment = ?"
                   " WHERE id = ?", (N - 2, before[b], last - 1, bid))
        rows = db.execute("SELECT first_seq, segments FROM chain_span WHERE actor = ? AND last_seq = ?",
                          (bid, N - 1)).fetchall()
        if len(rows) != 1:
            raise SystemExit("FAIL: B's index: %d spans end at event %d" % (len(rows), N - 1))
        first, segs = rows[0]
        ids = [segs[i:i + 8] for i in range(0, len(segs), 8)]
        ids = [s for s in ids if int.from_bytes(s, "little") != last and
               int.from_bytes(s, "big") != last]
        db.execute("UPDATE chain_span SET last_seq = ?, segments = ?"
                   " WHERE actor = ? AND first_seq = ?", (N - 2, b"".join(ids), bid, first))
    db.commit()
    db.close()


work = tempfile.mkdtemp(prefix="theater-shared-batch.")
try:
    a_id, b_id = str(uuid.uuid4()), str(uuid.uuid4())
    orig = os.path.join(work, "orig")
    os.mkdir(orig)
    if subprocess.run([HELPER, orig, a_id, b_id, str(N)]).returncode != 0:
        raise SystemExit("FAIL: shared_batch could not write the chains")
    expect("untouched home", orig, ["chain", "verify"], 0, "2 chains, %d events" % (2 * N))

    cut = os.path.join(work, "cut")
    shutil.copytree(orig, cut)
    drop_tail(cut, b_id, False)
    expect("blob only: B alone", cut, ["chain", "verify", b_id], 1, "missing event")
    expect("blob only: A alone", cut, ["chain", "verify", a_id], 0, "ok")
    expect("blob only: every chain", cut, ["chain", "verify"], 1, "missing event")

    head = os.path.join(work, "head")
    shutil.copytree(orig, head)
    drop_tail(head, b_id, True)
    expect("head row too: every chain", head, ["chain", "verify"], 1,
           "signed over the heads of more chains than it holds")
    expect("head row too: A alone", head, ["chain", "verify", a_id], 0, "ok")
    p = subprocess.run([T, "--home", head, "chain", "verify", "--json"],
                       capture_output=True, text=True)
    if p.returncode != 1 or '"ok":false' not in p.stdout.replace(" ", ""):
        fail("head row too: --json: exit %d: %s" % (p.returncode, p.stdout + p.stderr))
    else:
        print("ok head row too: --json")
finally:
    if not os.environ.get("KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("kept " + work)

if fails:
    print("%d failures" % fails)
    sys.exit(1)
print("all ok")
