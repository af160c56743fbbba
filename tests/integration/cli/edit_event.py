"""edit_event.py IN OUT TYPE FUNCTION N SET [WHERE...] - edit one event of a
file written by `theater chain export` (the replay tests' tampered records).

The event edited is the Nth (from 1) event of type TYPE whose data has
"function": FUNCTION and matches every WHERE; SET is PATH=JSON, the new
value at PATH in its data. A PATH is dot-separated keys and array indexes
(params.1.body); a WHERE is PATH=JSON (the value there must be that) or
PATH!=JSON (must not be). Exit 1 when no event fits.
"""
import base64
import json
import sys

MISSING = object()


def split(arg, ops):
    for op in ops:
        if op in arg:
            path, value = arg.split(op, 1)
            return path.split("."), op, json.loads(value)
    sys.exit("edit_event.py: no %s in %r" % (" or ".join(ops), arg))


def get(d, path):
    for k in path:
        if isinstance(d, list) and k.isdigit() and int(k) < len(d):
            d = d[int(k)]
        elif isinstance(d, dict) and k in d:
            d = d[k]
        else:
            return MISSING
    return d


def put(d, path, value):
    for k in path[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    k = path[-1]
    if isinstance(d, list):
        d[int(k)] = value
    else:
        d[k] = value


def main():
    src, dst, etype, fn, n, setting = sys.argv[1:7]
    n = int(n)
    spath, _, svalue = split(setting, ["="])
    wheres = [split(w, ["!=", "="]) for w in sys.argv[7:]]
    out, done = [], False
    for line in open(src).read().splitlines():
        o = json.loads(line)
        if not done and o.get("kind") == "event" and o.get("event_type") == etype:
            d = json.loads(base64.b64decode(o["data"]))
            fits = isinstance(d, dict) and d.get("function") == fn and all(
                (get(d, p) == v) == (op == "=") for p, op, v in wheres)
            if fits:
                n -= 1
            if fits and n == 0:
                put(d, spath, svalue)
                o["data"] = base64.b64encode(
                    json.dumps(d, separators=(",", ":")).encode()).decode()
                done = True
        out.append(json.dumps(o, separators=(",", ":")))
    if not done:
        sys.exit("edit_event.py: no such %s of %s in %s" % (etype, fn, src))
    open(dst, "w").write("\n".join(out) + "\n")


main()
