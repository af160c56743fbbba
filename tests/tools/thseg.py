"""thseg.py - a decoder and encoder of the THSEG-v4 segment blob
(chain_segment.events), written from docs/chain-format.md, for tests that
alter a home's segments the way an attacker with write access to
theater.db could (and check that `theater chain verify` tells).

    parse(blob) -> (actors, events)
        actors: the chain names of the segment, in order; events: dicts
        with actor (index into actors), seq, ts (ms), chk (8-byte check
        value), parent (32 bytes, None at event 0, or 'implicit': the
        previous event of the chain in this segment), type, data, desc
        (bytes or None)
    resolve(actors, events) -> (rows, heads)
        recompute every event hash; rows: (actor, seq, type, hash hex
        prefix, stored check hex, check ok); heads: actor index -> hash of
        its last event in the segment
    encode(actors, events, parents) -> (blob, heads)
        a blob of these events (no references to earlier events, explicit
        seqs), each chain's first event linked to parents[actor index]
        (its hash before this segment), with check values recomputed
    heads_before(db, segment_id) -> {actor name: hash of its last event in
        the segments before segment_id}
    event_hash(parent, ts, type, data, desc) -> 32 bytes
"""
import hashlib
import struct

MAGIC = b"THSEG-v4"


def _rv(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return r, i


def _wv(n):
    out = bytearray()
    while True:
        c = n & 0x7F
        n >>= 7
        if n:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def event_hash(parent, ts, typ, data, desc):
    m = b"THEATER-EVENT-v1"
    m += b"\0" if parent is None else b"\1" + parent
    m += struct.pack(">Q", ts) + struct.pack(">I", len(typ)) + typ
    m += struct.pack(">Q", len(data)) + data
    m += b"\0" if desc is None else b"\1" + struct.pack(">I", len(desc)) + desc
    return hashlib.sha256(m).digest()


def parse(b):
    if b[:8] != MAGIC:
        raise ValueError("not a THSEG-v4 segment: %r" % b[:8])
    i = 8
    na, i = _rv(b, i)
    actors = []
    for _ in range(na):
        n, i = _rv(b, i)
        actors.append(b[i:i + n].decode())
        i += n + 1
    base, i = _rv(b, i)
    ne, i = _rv(b, i)
    evs, last = [], {}
    for _ in range(ne):
        f = b[i]
        i += 1
        a, i = _rv(b, i)
        prev = last.setdefault(a, [])
        if f & 4:
            seq = prev[-1]["seq"] + 1
        else:
            seq, i = _rv(b, i)
        dt, i = _rv(b, i)
        chk = b[i:i + 8]
        i += 8
        parent = None
        if f & 1:
            if f & 2:
                parent = "implicit"
            else:
                parent = b[i:i + 32]
                i += 32
        if f & 16:  # the data as an edit of an earlier event's of the chain
            k, i = _rv(b, i)
            p, i = _rv(b, i)
            s, i = _rv(b, i)
            m, i = _rv(b, i)
            new = b[i:i + m]
            i += m
            ref = prev[-k]
            typ = ref["type"]
            rd = ref["data"]
            data = rd[:p] + new + (rd[len(rd) - s:] if s else b"")
        else:
            t, i = _rv(b, i)
            typ = b[i:i + t]
            i += t + 1
            d, i = _rv(b, i)
            data = b[i:i + d]
            i += d
        desc = None
        if f & 8:
            n, i = _rv(b, i)
            desc = b[i:i + n]
            i += n + 1
        ev = dict(actor=a, seq=seq, ts=base + dt, chk=chk, parent=parent, type=typ,
                  data=data, desc=desc, flags=f)
        prev.append(ev)
        evs.append(ev)
    if i != len(b):
        raise ValueError("segment blob: %d bytes left over" % (len(b) - i))
    return actors, evs


def resolve(actors, evs):
    cur, rows = {}, []
    for e in evs:
        a = e["actor"]
        p = cur[a] if e["parent"] == "implicit" else e["parent"]
        h = event_hash(p, e["ts"], e["type"], e["data"], e["desc"])
        cur[a] = h
        rows.append((actors[a], e["seq"], e["type"].decode(), h.hex()[:16], e["chk"].hex(),
                     h[:8] == e["chk"]))
    return rows, cur


def encode(actors, evs, parents=None):
    base = min(e["ts"] for e in evs)
    out = bytearray(MAGIC) + _wv(len(actors))
    for a in actors:
        n = a.encode()
        out += _wv(len(n)) + n + b"\0"
    out += _wv(base) + _wv(len(evs))
    cur = {}
    for e in evs:
        a = e["actor"]
        if a in cur:
            parent, f = cur[a], 1 | 2
        else:
            parent = (parents or {}).get(a) if e["seq"] > 0 else None
            f = 1 if parent is not None else 0
        h = event_hash(parent, e["ts"], e["type"], e["data"], e["desc"])
        cur[a] = h
        if e["desc"] is not None:
            f |= 8
        out.append(f)
        out += _wv(a) + _wv(e["seq"]) + _wv(e["ts"] - base) + h[:8]
        if (f & 1) and not (f & 2):
            out += parent
        out += _wv(len(e["type"])) + e["type"] + b"\0" + _wv(len(e["data"])) + e["data"]
        if e["desc"] is not None:
            out += _wv(len(e["desc"])) + e["desc"] + b"\0"
    return bytes(out), cur


def heads_before(db, segment_id):
    heads = {}
    for (blob,) in db.execute("SELECT events FROM chain_segment WHERE id < ? ORDER BY id",
                              (segment_id,)):
        actors, evs = parse(blob)
        _, cur = resolve(actors, evs)
        for k, v in cur.items():
            heads[actors[k]] = v
    return heads
