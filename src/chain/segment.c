/*
 * segment.c - the storage format of the event chains: one segment per
 * committed batch, decoded here (the writer in writer.c encodes it).
 *
 * A batch's events are stored together in one row of chain_segment, so a
 * commit writes a few sequential pages however many chains it touches
 * (rows per event, clustered by chain, would dirty a page per chain per
 * commit).  A segment is self-contained: it names its actors and holds every
 * field of its events, and its signature covers the new head of every chain
 * it touches (sign.c).  Per-chain lookup goes through chain_span (writer.c).
 *
 * Four blob formats share one decoder; the writer produces v4 only.
 *
 * Segment blob v4 (written): v3 below with magic "THSEG-v4", and in each
 * event, in place of the 32-byte event hash, its first 8 bytes
 * (CHAIN_SEG_CHECK_LEN), the check value.  The decoder computes every
 * event's hash from its contents (hash.c), in order (an implicit parent is
 * the hash so computed of the actor's previous event in the segment), and
 * compares its first 8 bytes with the check value (hash_ok: a mismatch is
 * reported by verification as a bad hash of that event, as a changed
 * stored hash is in v1 to v3).  The hash is what it always was, and the
 * signed heads cover it, so nothing is weaker; only the 24 bytes per event
 * that any reader can recompute are not stored.  A repeated event (a send
 * in a loop) then takes about 16 bytes instead of 40; the writer's WAL,
 * the checkpoint and the file shrink with it (docs/performance.md).
 *
 * Segment blob v3 (read, no longer written): v2 below with magic "THSEG-v3" and one more
 * event flag, bit 4 `ref`.  An event with `ref` has no type and data
 * fields; in their place:
 *
 *           var  K = how many of the actor's events in this segment back
 *                the referenced event is (1 = the actor's previous event;
 *                1 <= K <= 16)
 *           var  P;  var S;  var M;  M bytes
 *
 *         The event's type is the referenced event's; its data is the
 *         first P bytes of the referenced event's data, the M bytes, then
 *         the last S bytes of the referenced data (P + S <= its length).
 *         A K reaching before the actor's first event in the segment, P +
 *         S beyond the referenced data, data above TH_CHAIN_MAX_DATA_BYTES,
 *         or rebuilt data above TH_CHAIN_MAX_SEGMENT_BYTES for the whole
 *         segment make the blob corrupt.  The writer refers to the latest of
 *         the actor's last 4 events in the segment with the same type, and
 *         keeps the longest common start and then end: an actor that sends
 *         the same message again and again stores each send in ~40 bytes
 *         (flags, index, time, hash, K, P, S, M), not the ~180 of v2.
 *
 * Segment blob v2 (read, no longer written).  A varint is an unsigned LEB128 integer: 7 bits
 * per byte, least significant group first, high bit set on every byte but
 * the last; at most 10 bytes, minimal (no trailing 0x00 group after the
 * first byte) and within 64 bits (a 10th byte is 0x01 at most).  Strings are
 * followed by one NUL byte that is not counted in their length and must be
 * the only NUL:
 *
 *   size  field
 *   8     magic, ASCII "THSEG-v2"
 *   var   A = number of actors in the segment (>= 1)
 *   ...   A actor entries, in order of first appearance:
 *           var  N = name length (>= 1);  N+1  name, NUL
 *   var   B = base timestamp, ms since the Unix epoch (the minimum of the
 *         segment's timestamps)
 *   var   E = number of events (>= 1)
 *   ...   E events, in commit order (each actor's in seq order):
 *           1    flags: bit 0 has-parent, bit 1 parent-implicit,
 *                bit 2 seq-implicit, bit 3 has-description; the other bits
 *                are 0, and parent-implicit requires has-parent
 *           var  actor index (< A)
 *           var  sequence number (absent if seq-implicit: the previous
 *                event of the same actor in this segment's seq + 1)
 *           var  timestamp - B
 *           32   event hash (hash.c)
 *           32   parent hash (only if has-parent and not parent-implicit;
 *                if parent-implicit it is the hash of the previous event of
 *                the same actor in this segment)
 *           var  T = type length;         T+1  type, NUL
 *           var  D = data length;         D    data
 *           var  L = description length;  L+1  description, NUL
 *                (the last only if has-description)
 *         An implicit seq or parent with no earlier event of that actor in
 *         the segment makes the blob corrupt.  The writer sets both
 *         implicit bits whenever they apply, so only an actor's first event
 *         in a segment stores its seq and parent: with short lengths and a
 *         small actor index an event takes 38 bytes + type and data, plus
 *         the seq varint and 32 for the first (v1: 67, plus 32 with a
 *         parent).
 *
 * Segment blob v1 (read, no longer written; integers big-endian, strings as
 * above):
 *
 *   offset size  field
 *   0      8     magic, ASCII "THSEG-v1"
 *   8      4     A = number of actors in the segment (>= 1)
 *   12     ...   A actor entries, in order of first appearance:
 *                  4  N = name length;  N+1  name, NUL
 *   ...    4     E = number of events (>= 1)
 *   ...    ...   E events, in commit order (each actor's in seq order):
 *                  4   actor index (< A)
 *                  8   sequence number
 *                  8   timestamp, ms since the Unix epoch
 *                  32  event hash (hash.c)
 *                  1   parent flag (0 none, 1 present)
 *                  32  parent hash (only if the flag is 1)
 *                  4   T = type length;         T+1  type, NUL
 *                  8   D = data length;         D    data
 *                  1   description flag (0 none, 1 present)
 *                  4   L = description length;  L+1  description, NUL
 *                      (the last two only if the flag is 1)
 *
 * The row: chain_segment(id = commit number, consecutive from 1; signed_ms;
 * public_key; signature; events = the blob; leaves = the A signed head
 * leaves, 32 bytes each, in actor order).  The leaves are redundant (they
 * are recomputed from the events when checking the signature); they let
 * verification name the chain whose head was changed when a signature
 * fails.  The decoder treats the blob as
 * untrusted: every length and varint is checked against the remaining bytes
 * and its limits.
 */
#include <stdlib.h>
#include <string.h>

#include "chain/chain_int.h"
#include "db/db.h"

const uint8_t chain_segment_magic[8] = {'T', 'H', 'S', 'E', 'G', '-', 'v', '4'};
static const uint8_t segment_magic_v3[8] = {'T', 'H', 'S', 'E', 'G', '-', 'v', '3'};
static const uint8_t segment_magic_v2[8] = {'T', 'H', 'S', 'E', 'G', '-', 'v', '2'};
static const uint8_t segment_magic_v1[8] = {'T', 'H', 'S', 'E', 'G', '-', 'v', '1'};

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static int take(reader *r, size_t n, const uint8_t **out)
{
    if (r->left < n)
        return -1;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

static int get_u32(reader *r, uint32_t *v)
{
    const uint8_t *b;

    if (take(r, 4, &b) != 0)
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static int get_u64(reader *r, uint64_t *v)
{
    uint32_t hi, lo;

    if (get_u32(r, &hi) != 0 || get_u32(r, &lo) != 0)
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* get_var of more than one byte. */
static int get_var_long(reader *r, uint64_t *v)
{
    uint64_t x = 0;
    size_t i;
    uint8_t b;

    for (i = 0; i < 10 && i < r->left; i++) {
        b = r->p[i];
        if (i == 9 && b > 1)
            return -1; /* beyond 64 bits */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            if (b == 0 && i > 0)
                return -1; /* overlong */
            r->p += i + 1;
            r->left -= i + 1;
            *v = x;
            return 0;
        }
    }
    return -1; /* truncated or too long */
}

/* An unsigned LEB128 varint: minimal, at most 10 bytes, within 64 bits. */
static inline int get_var(reader *r, uint64_t *v)
{
    if (r->left > 0 && r->p[0] < 0x80) { /* one byte: most lengths and indices */
        *v = r->p[0];
        r->p++;
        r->left--;
        return 0;
    }
    return get_var_long(r, v);
}

/* A string of `len` bytes followed by its NUL, with no NUL inside. */
static int get_str(reader *r, uint64_t len, const char **out)
{
    const uint8_t *b;

    if (len >= r->left || take(r, (size_t)len + 1, &b) != 0 || b[len] != 0 ||
        memchr(b, 0, (size_t)len) != NULL)
        return -1;
    *out = (const char *)b;
    return 0;
}

static int decode_event_v1(reader *r, chain_segment *seg, size_t i)
{
    th_chain_event *ev = &seg->events[i];
    const uint8_t *b;
    uint32_t idx, tlen, dlen32;
    uint64_t dlen;

    if (get_u32(r, &idx) != 0 || idx >= seg->nactors || get_u64(r, &ev->seq) != 0 ||
        ev->seq > INT64_MAX || get_u64(r, &ev->timestamp_ms) != 0 || take(r, 32, &b) != 0)
        return -1;
    seg->actor_of[i] = idx;
    seg->xoff[i] = 0;
    seg->prev_of[i] = 0; /* (v1 has no references) */
    ev->actor = seg->actors[idx];
    memcpy(ev->hash, b, 32);
    if (take(r, 1, &b) != 0 || b[0] > 1)
        return -1;
    ev->has_parent = b[0];
    if (ev->has_parent) {
        if (take(r, 32, &b) != 0)
            return -1;
        memcpy(ev->parent, b, 32);
    } else {
        memset(ev->parent, 0, 32);
    }
    if (get_u32(r, &tlen) != 0 || tlen > TH_CHAIN_MAX_TYPE_BYTES ||
        get_str(r, tlen, &ev->type) != 0)
        return -1;
    if (get_u64(r, &dlen) != 0 || dlen > r->left || take(r, (size_t)dlen, &b) != 0)
        return -1;
    ev->data = b;
    ev->data_len = (size_t)dlen;
    if (take(r, 1, &b) != 0 || b[0] > 1)
        return -1;
    ev->description = NULL;
    if (b[0]) {
        if (get_u32(r, &dlen32) != 0 || get_str(r, dlen32, &ev->description) != 0)
            return -1;
    }
    return 0;
}

/* The data of event j as decoded so far (an edited one is in xdata, whose
 * address may still change). */
static const uint8_t *data_of(const chain_segment *seg, size_t j)
{
    return seg->xoff[j] ? seg->xdata + seg->xoff[j] - 1 : seg->events[j].data;
}

/* v3: the type and data of event i as a reference to an earlier event of
 * its actor (`back` events back) and an edit of its data: the first P
 * bytes of that data, M new bytes, its last S bytes.  The rebuilt data go
 * to xdata, at most TH_CHAIN_MAX_SEGMENT_BYTES for the whole segment.
 * 0, -1 (malformed) or CHAIN_SEG_OOM. */
static int decode_ref(reader *r, chain_segment *seg, size_t i, bool keep_data)
{
    th_chain_event *ev = &seg->events[i];
    uint64_t back, keep, tail, mid;
    const uint8_t *b, *rd;
    size_t j, k, rlen, dlen;
    uint8_t *q;

    if (get_var(r, &back) != 0 || back == 0 || back > CHAIN_SEG_REF_MAX)
        return -1;
    for (j = i, k = 0; k < back; k++) {
        if (seg->prev_of[j] == 0)
            return -1;
        j = seg->prev_of[j] - 1;
    }
    rlen = seg->events[j].data_len;
    if (get_var(r, &keep) != 0 || keep > rlen || get_var(r, &tail) != 0 || tail > rlen - keep ||
        get_var(r, &mid) != 0 || mid > r->left || take(r, (size_t)mid, &b) != 0)
        return -1;
    dlen = (size_t)(keep + tail + mid);
    ev->type = seg->events[j].type;
    ev->data_len = dlen;
    if (dlen == 0) {
        ev->data = (const uint8_t *)"";
        return 0;
    }
    if (dlen > TH_CHAIN_MAX_DATA_BYTES || dlen > TH_CHAIN_MAX_SEGMENT_BYTES - seg->xtotal)
        return -1; /* more than any writer puts in a segment */
    seg->xtotal += dlen;
    if (!keep_data) { /* another actor's (seg->only): checked, not rebuilt */
        ev->data = NULL;
        return 0;
    }
    if (mid == 0 && dlen == rlen) {
        /* the same data as the referenced event's (an actor doing the same
         * thing again): shared, not copied; it counts against the limit
         * as if it were rebuilt */
        seg->xoff[i] = seg->xoff[j];
        ev->data = seg->xoff[j] ? NULL : seg->events[j].data;
        return 0;
    }
    if (seg->xlen + dlen > seg->xcap) {
        size_t cap = seg->xcap ? seg->xcap : 4096;
        while (cap < seg->xlen + dlen)
            cap *= 2;
        q = realloc(seg->xdata, cap);
        if (q == NULL)
            return CHAIN_SEG_OOM;
        seg->xdata = q;
        seg->xcap = cap;
    }
    rd = data_of(seg, j);
    q = seg->xdata + seg->xlen;
    if (keep)
        memcpy(q, rd, (size_t)keep);
    if (mid)
        memcpy(q + keep, b, (size_t)mid);
    if (tail)
        memcpy(q + keep + mid, rd + rlen - tail, (size_t)tail);
    seg->xoff[i] = seg->xlen + 1;
    seg->xlen += dlen;
    ev->data = NULL; /* set once xdata has its final address */
    return 0;
}

/* hash_ok[i] while decoding v4, until the hashes are computed: the
 * event's parent is its actor's previous event's hash. */
#define SEG_PARENT_LATER 2u

static int decode_event_v2(reader *r, chain_segment *seg, size_t i, uint64_t base, int ver)
{
    th_chain_event *ev = &seg->events[i];
    const th_chain_event *prev = NULL;
    const uint8_t *b;
    uint64_t idx, delta, tlen, dlen;
    uint8_t flags;
    bool whole;
    int rc;

    if (take(r, 1, &b) != 0)
        return -1;
    flags = b[0];
    if ((flags & ~(CHAIN_SEG_HAS_PARENT | CHAIN_SEG_PARENT_IMPLICIT | CHAIN_SEG_SEQ_IMPLICIT |
                   CHAIN_SEG_HAS_DESC | (ver >= 3 ? CHAIN_SEG_REF : 0))) != 0 ||
        ((flags & CHAIN_SEG_PARENT_IMPLICIT) && !(flags & CHAIN_SEG_HAS_PARENT)))
        return -1;
    if (get_var(r, &idx) != 0 || idx >= seg->nactors)
        return -1;
    whole = seg->only == NULL || (int)idx == seg->only_idx;
    seg->actor_of[i] = (uint32_t)idx;
    seg->xoff[i] = 0;
    ev->actor = seg->actors[idx];
    seg->prev_of[i] = seg->last_event[idx];
    if (seg->last_event[idx] != 0)
        prev = &seg->events[seg->last_event[idx] - 1];
    if (flags & CHAIN_SEG_SEQ_IMPLICIT) {
        if (prev == NULL)
            return -1;
        ev->seq = prev->seq + 1; /* prev->seq <= INT64_MAX: no wrap */
    } else if (get_var(r, &ev->seq) != 0) {
        return -1;
    }
    if (ev->seq > INT64_MAX || get_var(r, &delta) != 0 || delta > UINT64_MAX - base ||
        take(r, ver >= 4 ? CHAIN_SEG_CHECK_LEN : 32, &b) != 0)
        return -1;
    ev->timestamp_ms = base + delta;
    ev->has_parent = (flags & CHAIN_SEG_HAS_PARENT) != 0;
    seg->hash_ok[i] = 1;
    if (whole) /* v4: the check value, until segment_hash */
        memcpy(ev->hash, b, ver >= 4 ? CHAIN_SEG_CHECK_LEN : 32);
    if (flags & CHAIN_SEG_PARENT_IMPLICIT) {
        if (prev == NULL)
            return -1;
        if (ver >= 4) /* known once the previous event is hashed */
            seg->hash_ok[i] = SEG_PARENT_LATER;
        else if (whole)
            memcpy(ev->parent, prev->hash, 32);
    } else if (ev->has_parent) {
        if (take(r, 32, &b) != 0)
            return -1;
        if (whole)
            memcpy(ev->parent, b, 32);
    } else if (whole) {
        memset(ev->parent, 0, 32);
    }
    if (flags & CHAIN_SEG_REF) {
        if ((rc = decode_ref(r, seg, i, whole)) != 0)
            return rc;
    } else {
        if (get_var(r, &tlen) != 0 || tlen > TH_CHAIN_MAX_TYPE_BYTES ||
            get_str(r, tlen, &ev->type) != 0)
            return -1;
        if (get_var(r, &dlen) != 0 || dlen > r->left || take(r, (size_t)dlen, &b) != 0)
            return -1;
        ev->data = b;
        ev->data_len = (size_t)dlen;
    }
    ev->description = NULL;
    if (flags & CHAIN_SEG_HAS_DESC) {
        if (get_var(r, &dlen) != 0 || get_str(r, dlen, &ev->description) != 0)
            return -1;
    }
    return 0;
}

/* A count: a u32 (v1) or a varint (v2) of at most UINT32_MAX. */
static int get_count(reader *r, int v2, uint32_t *n)
{
    uint64_t v;

    if (!v2)
        return get_u32(r, n);
    if (get_var(r, &v) != 0 || v > UINT32_MAX)
        return -1;
    *n = (uint32_t)v;
    return 0;
}

/* Room for na actors (names and last events zeroed), kept from an earlier
 * decode when large enough.  0 or -1. */
static int seg_actors(chain_segment *seg, size_t na)
{
    if (na > seg->cap_actors) {
        const char **a = realloc(seg->actors, na * sizeof *a);
        if (a != NULL)
            seg->actors = a;
        size_t *l = a != NULL ? realloc(seg->last_event, na * sizeof *l) : NULL;
        if (l == NULL)
            return -1;
        seg->last_event = l;
        seg->cap_actors = na;
    }
    memset(seg->actors, 0, na * sizeof *seg->actors);
    memset(seg->last_event, 0, na * sizeof *seg->last_event);
    seg->nactors = na;
    return 0;
}

/* Room for ne events, likewise.  0 or -1. */
static int seg_events(chain_segment *seg, size_t ne)
{
    if (ne > seg->cap_events) {
        th_chain_event *e = realloc(seg->events, ne * sizeof *e);
        if (e != NULL)
            seg->events = e;
        uint32_t *o = e != NULL ? realloc(seg->actor_of, ne * sizeof *o) : NULL;
        if (o != NULL)
            seg->actor_of = o;
        size_t *x = o != NULL ? realloc(seg->xoff, ne * sizeof *x) : NULL;
        if (x != NULL)
            seg->xoff = x;
        size_t *pv = x != NULL ? realloc(seg->prev_of, ne * sizeof *pv) : NULL;
        if (pv != NULL)
            seg->prev_of = pv;
        uint8_t *ok = pv != NULL ? realloc(seg->hash_ok, ne) : NULL;
        if (ok == NULL)
            return -1;
        seg->hash_ok = ok;
        seg->cap_events = ne;
    }
    /* not zeroed: every field of an event, its actor_of, xoff and prev_of
     * are set by its decoder before anything reads them (of another
     * actor's event under seg->only: seq, type, data_len) */
    seg->xlen = 0;
    seg->xtotal = 0;
    seg->nevents = ne;
    return 0;
}

/* v4: event i's hash from its contents (its implicit parent is the hash
 * computed before of its actor's previous event), compared with its
 * stored check value. */
static void hash_event(chain_segment *seg, size_t i, base_sha256_ctx *ctx)
{
    th_chain_event *ev = &seg->events[i];
    uint8_t check[CHAIN_SEG_CHECK_LEN];

    if (seg->hash_ok[i] == SEG_PARENT_LATER)
        memcpy(ev->parent, seg->events[seg->prev_of[i] - 1].hash, 32);
    memcpy(check, ev->hash, sizeof check);
    /* fails only for a type above TH_CHAIN_MAX_TYPE_BYTES, which the
     * decoder has refused, or without a context (out of memory) */
    if (ctx == NULL ||
        chain_event_hash(ctx, ev->has_parent ? ev->parent : NULL, ev->timestamp_ms, ev->type,
                         strlen(ev->type), ev->data, ev->data_len, ev->description,
                         ev->description != NULL ? strlen(ev->description) : 0, ev->hash) != 0) {
        memset(ev->hash, 0, 32);
        memcpy(ev->hash, check, sizeof check);
        seg->hash_ok[i] = CHAIN_SEG_UNHASHED;
        return;
    }
    seg->hash_ok[i] = memcmp(ev->hash, check, sizeof check) == 0;
    if (!seg->hash_ok[i]) /* what is stored: matches nothing */
        memcpy(ev->hash, check, sizeof check);
}

/* The events are visited in their order in the segment (each actor's in
 * its order), not actor by actor: an actor's events are spread over the
 * segment, and the events array is read front to back. */
void chain_segment_hash_part(chain_segment *seg, size_t part, size_t nparts, base_sha256_ctx *ctx)
{
    size_t i;

    for (i = 0; i < seg->nevents; i++)
        if (seg->actor_of[i] % nparts == part)
            hash_event(seg, i, ctx);
}

/* v4: compute the events' hashes (unless the caller does: defer_hash):
 * those of the actor asked for under `only`, else every actor's.  0 or
 * CHAIN_SEG_OOM. */
static int segment_hash(chain_segment *seg)
{
    base_sha256_ctx *ctx;
    size_t i;

    if (seg->defer_hash)
        return 0;
    if ((ctx = chain_thread_sha256()) == NULL)
        return CHAIN_SEG_OOM;
    for (i = 0; i < seg->nevents; i++) {
        if (seg->only == NULL || (int)seg->actor_of[i] == seg->only_idx)
            hash_event(seg, i, ctx);
        else /* another actor's event under `only`: not filled in, not hashed */
            seg->hash_ok[i] = 1;
    }
    return 0;
}

int chain_segment_decode(uint8_t *blob, size_t len, chain_segment *seg)
{
    reader r = {blob, len};
    const uint8_t *b;
    uint64_t base = 0;
    uint32_t na, ne, n, i;
    int v2, ver, rc;

    seg->blob = blob;
    seg->blob_len = len;
    if (take(&r, 8, &b) != 0)
        return -1;
    if (memcmp(b, chain_segment_magic, 8) == 0)
        ver = 4;
    else if (memcmp(b, segment_magic_v3, 8) == 0)
        ver = 3;
    else if (memcmp(b, segment_magic_v2, 8) == 0)
        ver = 2;
    else if (memcmp(b, segment_magic_v1, 8) == 0)
        ver = 1;
    else
        return -1;
    v2 = ver >= 2;
    seg->version = ver;
    /* Smallest actor entry: 5 bytes (v1), 3 (v2). */
    if (get_count(&r, v2, &na) != 0 || na == 0 || na > r.left / (v2 ? 3 : 5))
        return -1;
    if (seg_actors(seg, na) != 0)
        return CHAIN_SEG_OOM;
    seg->only_idx = -1;
    for (i = 0; i < na; i++) {
        if (get_count(&r, v2, &n) != 0 || n == 0 || n > TH_CHAIN_MAX_ACTOR_BYTES ||
            get_str(&r, n, &seg->actors[i]) != 0)
            return -1;
        if (seg->only != NULL && seg->only_idx < 0 && strcmp(seg->actors[i], seg->only) == 0)
            seg->only_idx = (int)i;
    }
    if (v2 && get_var(&r, &base) != 0)
        return -1;
    /* Smallest event: 60 bytes (v1), 38 (v2 and v3: flags, index, seq,
     * delta, hash, type length and NUL, data length; a v3 reference takes
     * 39 at least), 14 (v4: an 8-byte check for the hash). */
    if (get_count(&r, v2, &ne) != 0 || ne == 0 || ne > r.left / (ver >= 4 ? 14 : v2 ? 38 : 60))
        return -1;
    if (seg_events(seg, ne) != 0)
        return CHAIN_SEG_OOM;
    for (i = 0; i < ne; i++) {
        rc = v2 ? decode_event_v2(&r, seg, i, base, ver) : decode_event_v1(&r, seg, i);
        if (rc != 0)
            return rc == CHAIN_SEG_OOM ? rc : -1;
        seg->last_event[seg->actor_of[i]] = i + 1; /* 1-based; 0 = none */
    }
    if (seg->xlen > 0)
        for (i = 0; i < ne; i++)
            if (seg->xoff[i])
                seg->events[i].data = seg->xdata + seg->xoff[i] - 1;
    for (i = 0; i < na; i++)
        if (seg->last_event[i] == 0) /* an actor without events */
            return -1;
    if (r.left != 0)
        return -1;
    return ver >= 4 ? segment_hash(seg) : 0;
}

void chain_segment_release(chain_segment *seg)
{
    if (seg == NULL)
        return;
    sqlite3_finalize(seg->rd_st);
    sqlite3_blob_close(seg->rd_blob);
    if (!seg->blob_borrowed)
        free(seg->blob);
    free(seg->actors);
    free(seg->last_event);
    free(seg->events);
    free(seg->actor_of);
    free(seg->xdata);
    free(seg->xoff);
    free(seg->prev_of);
    free(seg->hash_ok);
    memset(seg, 0, sizeof *seg);
}

int chain_segment_load(sqlite3 *db, uint64_t id, chain_segment *seg, th_error *err)
{
    memset(seg, 0, sizeof *seg);
    return chain_segment_reload(db, id, seg, err);
}

int chain_segment_reload(sqlite3 *db, uint64_t id, chain_segment *seg, th_error *err)
{
    sqlite3_stmt *st = seg->rd_st;
    sqlite3_blob *bh = seg->rd_blob;
    uint8_t *blob = NULL;
    int rc = SQLITE_OK, n = 0;

    /* The small columns by a query, the events blob (the bulk: often
     * hundreds of KiB in overflow pages) read straight into the buffer the
     * segment keeps, without SQLite's copy of the value in between.  The
     * arrays of an earlier decode are kept (their capacities). */
    if (seg->blob_borrowed || seg->blob == NULL) {
        seg->blob = NULL;
        seg->blob_cap = 0;
    }
    blob = seg->blob; /* reused if it has room (below) */
    seg->blob = NULL;
    seg->blob_borrowed = false;
    seg->xlen = 0; /* xdata: its buffer is reused */
    seg->nactors = seg->nevents = 0;
    seg->id = id;
    /* the query and the blob handle of the segment before (same read) */
    seg->rd_st = NULL;
    seg->rd_blob = NULL;
    if (st == NULL)
        rc = sqlite3_prepare_v2(db,
                                "SELECT signed_ms, public_key, signature FROM chain_segment"
                                " WHERE id = ?",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = th_error_set(err, TH_ENOENT, "segment %llu is missing", (unsigned long long)id);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = db_error(db, rc, err, "reading a segment");
        goto out;
    }
    seg->signed_ms = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) != CHAIN_PUBKEY_LEN ||
        sqlite3_column_bytes(st, 2) != CHAIN_SIG_LEN) {
        rc = th_error_set(err, TH_ECORRUPT, "segment %llu has a malformed signature",
                          (unsigned long long)id);
        goto out;
    }
    memcpy(seg->public_key, sqlite3_column_blob(st, 1), CHAIN_PUBKEY_LEN);
    memcpy(seg->signature, sqlite3_column_blob(st, 2), CHAIN_SIG_LEN);
    sqlite3_reset(st);
    if (bh != NULL && (rc = sqlite3_blob_reopen(bh, (sqlite3_int64)id)) != SQLITE_OK) {
        sqlite3_blob_close(bh); /* (all it is good for after a failed reopen) */
        bh = NULL;
    }
    if (bh == NULL)
        rc = sqlite3_blob_open(db, "main", "chain_segment", "events", (sqlite3_int64)id, 0, &bh);
    if (rc == SQLITE_OK) {
        n = sqlite3_blob_bytes(bh);
        if (blob == NULL || seg->blob_cap < (size_t)n) {
            free(blob);
            seg->blob_cap = 0;
            if ((blob = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
                goto out;
            }
            seg->blob_cap = n > 0 ? (size_t)n : 1;
        }
        rc = n > 0 ? sqlite3_blob_read(bh, blob, n, 0) : SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        /* e.g. a value that is not a blob: the decoder below says so */
        rc = rc == SQLITE_NOMEM ? th_error_set(err, TH_ENOMEM, "out of memory reading segment %llu",
                                               (unsigned long long)id)
                                : th_error_set(err, TH_ECORRUPT, "segment %llu is malformed",
                                               (unsigned long long)id);
        goto out;
    }
    rc = chain_segment_decode(blob, (size_t)n, seg);
    blob = NULL; /* the segment's, also on failure */
    if (rc != 0) {
        chain_segment_release(seg);
        rc = rc == CHAIN_SEG_OOM
                 ? th_error_set(err, TH_ENOMEM, "out of memory decoding segment %llu",
                                (unsigned long long)id)
                 : th_error_set(err, TH_ECORRUPT, "segment %llu is malformed",
                                (unsigned long long)id);
        goto out;
    }
    rc = TH_OK;
out:
    free(blob);
    if (st != NULL)
        sqlite3_reset(st);
    seg->rd_st = st; /* closed by chain_segment_release (below on failure) */
    seg->rd_blob = bh;
    if (rc != TH_OK)
        chain_segment_release(seg);
    return rc;
}

int chain_segment_from_row(sqlite3_stmt *st, uint64_t id, chain_segment *seg, th_error *err)
{
    size_t n = (size_t)sqlite3_column_bytes(st, 3);
    uint8_t *blob;
    int rc;

    memset(seg, 0, sizeof *seg);
    seg->id = id;
    seg->signed_ms = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) != CHAIN_PUBKEY_LEN ||
        sqlite3_column_bytes(st, 2) != CHAIN_SIG_LEN)
        return th_error_set(err, TH_ECORRUPT, "segment %llu has a malformed signature",
                            (unsigned long long)id);
    memcpy(seg->public_key, sqlite3_column_blob(st, 1), CHAIN_PUBKEY_LEN);
    memcpy(seg->signature, sqlite3_column_blob(st, 2), CHAIN_SIG_LEN);
    blob = malloc(n ? n : 1);
    if (blob == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (n) {
        const void *src = sqlite3_column_blob(st, 3);
        if (src == NULL) { /* SQLite could not allocate the value */
            free(blob);
            return th_error_set(err, TH_ENOMEM, "out of memory reading segment %llu",
                                (unsigned long long)id);
        }
        memcpy(blob, src, n);
    }
    if ((rc = chain_segment_decode(blob, n, seg)) != 0) {
        chain_segment_release(seg);
        if (rc == CHAIN_SEG_OOM)
            return th_error_set(err, TH_ENOMEM, "out of memory decoding segment %llu",
                                (unsigned long long)id);
        return th_error_set(err, TH_ECORRUPT, "segment %llu is malformed", (unsigned long long)id);
    }
    return TH_OK;
}

int chain_segment_view_row(sqlite3_stmt *st, uint64_t id, chain_segment *seg, th_error *err)
{
    static const uint8_t empty[1];
    size_t n = (size_t)sqlite3_column_bytes(st, 3);
    const void *blob = n ? sqlite3_column_blob(st, 3) : empty;
    int rc;

    if (!seg->blob_borrowed)
        free(seg->blob);
    seg->blob = NULL;
    seg->blob_borrowed = true;
    seg->nactors = seg->nevents = 0;
    seg->id = id;
    seg->signed_ms = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) != CHAIN_PUBKEY_LEN ||
        sqlite3_column_bytes(st, 2) != CHAIN_SIG_LEN)
        return th_error_set(err, TH_ECORRUPT, "segment %llu has a malformed signature",
                            (unsigned long long)id);
    memcpy(seg->public_key, sqlite3_column_blob(st, 1), CHAIN_PUBKEY_LEN);
    memcpy(seg->signature, sqlite3_column_blob(st, 2), CHAIN_SIG_LEN);
    if (blob == NULL) /* SQLite could not allocate the value */
        return th_error_set(err, TH_ENOMEM, "out of memory reading segment %llu",
                            (unsigned long long)id);
    /* the decoder only reads the blob */
    if ((rc = chain_segment_decode((uint8_t *)(uintptr_t)blob, n, seg)) != 0) {
        seg->nactors = seg->nevents = 0;
        if (rc == CHAIN_SEG_OOM)
            return th_error_set(err, TH_ENOMEM, "out of memory decoding segment %llu",
                                (unsigned long long)id);
        return th_error_set(err, TH_ECORRUPT, "segment %llu is malformed", (unsigned long long)id);
    }
    return TH_OK;
}

int chain_segment_actor(const chain_segment *seg, const char *actor)
{
    size_t i;

    for (i = 0; i < seg->nactors; i++)
        if (strcmp(seg->actors[i], actor) == 0)
            return (int)i;
    return -1;
}

int chain_segment_message(base_sha256_ctx *ctx, const chain_segment *seg, int want,
                          uint8_t msg[CHAIN_BATCH_MSG_LEN], chain_signed_head *head)
{
    uint8_t(*leaves)[32] = malloc(seg->nactors * 32), root[32];
    uint8_t *paths = NULL, *depths = NULL;
    const th_chain_event *ev;
    size_t i;
    int rc = -1;

    if (leaves == NULL)
        return -1;
    if (want >= 0) {
        paths = malloc(seg->nactors * TH_CHAIN_MAX_MERKLE_DEPTH * 32);
        depths = malloc(seg->nactors);
        if (paths == NULL || depths == NULL)
            goto out;
    }
    base_sha256_take_error(ctx);
    for (i = 0; i < seg->nactors; i++) {
        ev = &seg->events[seg->last_event[i] - 1];
        chain_head_leaf(ctx, seg->actors[i], strlen(seg->actors[i]), ev->seq, ev->hash, leaves[i]);
    }
    if (chain_merkle_build(ctx, (const uint8_t(*)[32])leaves, seg->nactors, root, paths, depths) !=
            0 ||
        base_sha256_take_error(ctx))
        goto out;
    chain_batch_message(seg->id, seg->signed_ms, seg->nactors, root, msg);
    if (want >= 0 && head != NULL) {
        ev = &seg->events[seg->last_event[want] - 1];
        memset(head, 0, sizeof *head);
        head->seq = ev->seq;
        memcpy(head->hash, ev->hash, 32);
        head->commit_no = seg->id;
        head->signed_ms = seg->signed_ms;
        head->leaf_index = (uint64_t)want;
        head->tree_size = seg->nactors;
        head->path_len = depths[want] * 32u;
        memcpy(head->path, paths + (size_t)want * TH_CHAIN_MAX_MERKLE_DEPTH * 32, head->path_len);
        memcpy(head->signature, seg->signature, CHAIN_SIG_LEN);
        memcpy(head->public_key, seg->public_key, CHAIN_PUBKEY_LEN);
    }
    rc = 0;
out:
    free(leaves);
    free(paths);
    free(depths);
    return rc;
}

int chain_segment_signature_ok(base_sha256_ctx *ctx, const chain_segment *seg)
{
    uint8_t msg[CHAIN_BATCH_MSG_LEN];

    if (chain_segment_message(ctx, seg, -1, msg, NULL) != 0)
        return TH_ENOMEM; /* hashing fails only for want of memory */
    return chain_key_verify(seg->public_key, msg, sizeof msg, seg->signature);
}
