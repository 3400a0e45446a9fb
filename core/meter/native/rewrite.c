// The function-body rewrite of `function-rewriter.ts`, `segments.ts`, `edits.ts` and
// `injection.ts`, in C compiled to wasm: the same decisions in the same order, so its output
// is byte for byte the TypeScript rewriter's (test/core/meter/native-rewriter.test.ts checks
// that over every module the tests meter). It exists for speed alone: decoding every
// instruction of a module is the meter's hot path, and JavaScript pays bounds checks, number
// boxing and a JIT warm-up per process that this does not (see README, "Metering").
//
// The TypeScript files are the reference: comments there say why each decision is made; here
// they say only what mirrors what. Anything this code cannot do (a malformed body, an engine
// limit crossed) it reports, and `native-rewriter.ts` redoes that body in TypeScript, which
// throws the precise error. Build: `node scripts/build-native-rewriter.mjs`.
typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef long long i64;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(#name)))

// ---- memory: a bump allocator over the linear memory (everything is reset per module) ----
extern u8 __heap_base;
static u32 heap_top;

static void *alloc(u32 size) {
  u32 at = (heap_top + 7) & ~7u;
  if (size > 0xffffffffu - at) __builtin_trap(); // past a 32-bit memory: the host redoes the module in TypeScript
  u32 need = at + size;
  u32 have = __builtin_wasm_memory_size(0) * 65536u;
  if (need > have) {
    u32 pages = (need - have + 65535) / 65536;
    if (__builtin_wasm_memory_grow(0, pages) == (unsigned long)-1) __builtin_trap();
  }
  heap_top = need;
  return (void *)at;
}

/** Doubles an array of `size`-byte records holding `n` (the old one stays behind until the next module). */
static void *grow_records(void *d, u32 *cap, u32 n, u32 size) {
  *cap = *cap ? *cap * 2 : 256;
  void *next = alloc(*cap * size);
  if (n) __builtin_memcpy(next, d, n * size);
  return next;
}

typedef struct { i32 *d; u32 n, cap; } List;
static void list_grow(List *l) { l->d = grow_records(l->d, &l->cap, l->n, sizeof(i32)); }
static inline void push(List *l, i32 v) { if (l->n == l->cap) list_grow(l); l->d[l->n++] = v; }

typedef struct { u8 *d; u32 n, cap; } Buf;

static void buf_reserve(Buf *b, u32 extra) {
  if (b->n + extra <= b->cap) return;
  u32 cap = b->cap ? b->cap * 2 : 65536;
  while (cap < b->n + extra) cap *= 2;
  u8 *d = alloc(cap);
  if (b->n) __builtin_memcpy(d, b->d, b->n);
  b->d = d; b->cap = cap;
}
// ---- the module: set by `configure`, read by every body ----
static u32 g_fuel, g_depth, g_grow_denied, g_table_grow_denied;
static i32 stack_depth; // -1: not limited
static int depth_limited, fast;
static u32 globals_from, imported_funcs;
static const u8 *passing; // per function index, or 0
static u32 max_locals, max_body_bytes;
static u8 store_before[256], store_before_in_passing[256], static_cost[256];
static Buf out; // sized bodies: the code section's content, read by the host once it is complete

/** Room for `n` bytes the host fills (the module, the passing table, block types). */
EXPORT(allocate) u8 *allocate(u32 n) { return alloc(n); }

EXPORT(configure) void configure(u32 fuel, u32 depth, u32 grow_denied, u32 table_grow_denied, i32 limit, int is_fast,
                                 u32 globals_from_, u32 imported_funcs_, const u8 *passing_, u32 max_locals_, u32 max_body_bytes_) {
  g_fuel = fuel; g_depth = depth; g_grow_denied = grow_denied; g_table_grow_denied = table_grow_denied;
  stack_depth = limit; depth_limited = limit >= 0; fast = is_fast;
  globals_from = globals_from_; imported_funcs = imported_funcs_; passing = passing_;
  max_locals = max_locals_; max_body_bytes = max_body_bytes_;
  // fuel-observers.ts and cost-rules.ts
  static const u8 leaves_frame[] = {0x08, 0x09, 0x0a, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};
  static const u8 can_trap[] = {0x00, 0x25, 0x26, 0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82, 0xa8, 0xa9, 0xaa, 0xab, 0xae, 0xaf, 0xb0, 0xb1, 0xd4};
  for (int i = 0; i < 256; i++) { store_before[i] = 0; static_cost[i] = 1; }
  for (u32 i = 0; i < sizeof leaves_frame; i++) store_before[leaves_frame[i]] = 1;
  if (!fast) {
    for (u32 i = 0; i < sizeof can_trap; i++) store_before[can_trap[i]] = 1;
    for (int i = 0x28; i <= 0x3e; i++) store_before[i] = 1;
  }
  store_before[0x10] = 0; // call decides per callee
  for (int i = 0; i < 256; i++) store_before_in_passing[i] = store_before[i];
  store_before_in_passing[0x0f] = 0;
  static_cost[0x05] = static_cost[0x07] = static_cost[0x0b] = static_cost[0x18] = static_cost[0x19] = 0;
}

/** Room for `n` bytes of output, made before the first body so that it is not copied as it grows (pages are touched only as it fills). */
EXPORT(reserve_output) void reserve_output(u32 n) { out = (Buf){alloc(n), 0, n}; }
EXPORT(output) u8 *output(void) { return out.d; }

// ---- reading (reader.ts): a failure sets `failed`; the scan stops at its next instruction ----
static const u8 *code;
static u32 pos, end;
static int failed;

static inline u8 rd_byte(void) { if (pos >= end) { failed = 1; return 0; } return code[pos++]; }
static u32 rd_u32(void) {
  if (pos < end && code[pos] < 0x80) return code[pos++];
  u64 result = 0;
  for (u32 shift = 0; shift < 35; shift += 7) {
    if (pos >= end) { failed = 1; return 0; }
    u8 b = code[pos++];
    result |= (u64)(b & 0x7f) << shift;
    if (!(b & 0x80)) { if (result > 0xffffffffu) failed = 1; return (u32)result; }
  }
  failed = 1; return 0;
}
static i64 rd_s33(void) {
  if (pos < end && code[pos] < 0x80) { u8 b = code[pos++]; return b & 0x40 ? (i64)b - 0x80 : b; }
  i64 result = 0; u32 shift = 0; u8 b;
  do {
    b = rd_byte();
    if (failed) return 0;
    result |= (i64)(b & 0x7f) << shift;
    shift += 7;
    if (shift > 35 && (b & 0x80)) { failed = 1; return 0; }
  } while (b & 0x80);
  if (b & 0x40) result -= (i64)1 << shift;
  return result;
}
static void skip_leb(void) {
  for (u32 i = 0, p = pos; i < 10 && p < end; i++, p++) if (!(code[p] & 0x80)) { pos = p + 1; return; }
  failed = 1;
}
static void skip(u32 n) { if (pos + n > end) { failed = 1; return; } pos += n; }

// immediates.ts
static void skip_value_type(void) { u8 b = rd_byte(); if (b == 0x63 || b == 0x64) rd_s33(); }
static void skip_block_type(void) { i64 v = rd_s33(); if (v == -29 || v == -28) rd_s33(); }
static void skip_memarg(void) { u32 align = rd_u32(); if (align & 0x40) rd_u32(); skip_leb(); }
static void skip_fc(u32 sub) {
  if (sub <= 7) return;
  switch (sub) {
    case 8: case 10: case 12: case 14: rd_u32(); rd_u32(); return;
    case 9: case 11: case 13: case 15: case 16: case 17: rd_u32(); return;
    default: failed = 1;
  }
}
static void skip_fd(u32 sub) {
  if (sub <= 11 || sub == 92 || sub == 93) { skip_memarg(); return; }
  if (sub == 12 || sub == 13) { skip(16); return; }
  if (sub >= 21 && sub <= 34) { skip(1); return; }
  if (sub >= 84 && sub <= 91) { skip_memarg(); skip(1); return; }
  if (sub > 0x113) failed = 1;
}
static void skip_fe(u32 sub) {
  if (sub == 3) { skip(1); return; }
  if (sub > 0x4e) { failed = 1; return; }
  skip_memarg();
}
static int prefixed_can_trap(u8 prefix, u32 sub) {
  if (prefix == 0xfc) return sub >= 8;
  if (prefix == 0xfd) return sub <= 11 || (sub >= 84 && sub <= 93);
  return prefix == 0xfe;
}

// ---- edits.ts ----
enum {
  CHARGE, RELOAD_FUEL, DYNAMIC_MEMORY, DYNAMIC_TABLE, DYNAMIC_PAGES, DENIED_MEMORY_GROW, DENIED_TABLE_GROW,
  ENTER_FRAME, LEAVE_FRAME, END_AND_LEAVE, RESTORE_FRAME, COUNT_CALL, CAUGHT_LOOP_CHARGE, STORE_FUEL, NONE,
  RENUMBER_INDEX, PUSH_FUEL, TAKE_FUEL, STORE_FUEL_HERE, PASS_COUNTERS,
};
enum { STORES = 1, STORES_IF_LOOPS_TOUCH_GLOBAL = 2, PASSES = 4 };

// ---- segments.ts: the ledger of one body ----
static List edits, bumps, bump_by;
/** Per segment (one record, one capacity check): its cost, `SegmentFlag`s, the segment it joined (-1), whether it started live. */
typedef struct { i32 cost, flags, joined, live; } Segment;
static Segment *segs;
static u32 seg_n, seg_cap;
static int passed, store_outside_loops, global_in_loop, unstored, dead;
static i32 merge_links, segment, loop_depth, cost, dead_frames;

static inline void always(u32 at, i32 kind, i32 arg) { push(&edits, at); push(&edits, kind); push(&edits, arg); }
static inline void insert(u32 at, i32 kind, i32 arg) { if (!dead) always(at, kind, arg); }
static void move_up(u32 at, u32 index, int one_byte, u32 by) {
  if (index + by < 0x80 && one_byte) { push(&bumps, at); push(&bump_by, by); }
  else always(at, RENUMBER_INDEX, index + by);
}
static void start_segment(u32 at) {
  if (segment >= 0) segs[segment].cost = cost;
  if (seg_n == seg_cap) segs = grow_records(segs, &seg_cap, seg_n, sizeof(Segment));
  segment = seg_n++;
  segs[segment] = (Segment){0, loop_depth > 0 ? 0 : store_outside_loops ? STORES : STORES_IF_LOOPS_TOUCH_GLOBAL, -1, dead ? 0 : 1};
  passed = 0;
  merge_links = -2;
  cost = 0;
  insert(at, CHARGE, segment);
  unstored = 1;
}
static void die(i32 height) { if (dead) return; dead = 1; dead_frames = height; }
static void live_at(i32 height) { if (dead && height <= dead_frames) dead = 0; }
static void end_loop(i32 header_edit, i32 outer) {
  i32 header = edits.d[header_edit + 2];
  int outer_passed = (segs[outer].flags & PASSES) != 0;
  edits.d[header_edit + 1] = outer_passed && (segs[header].flags & STORES) ? STORE_FUEL_HERE : NONE;
  segs[outer].flags |= outer_passed ? segs[header].flags & ~STORES : segs[header].flags;
  segs[header].joined = outer;
  if (segment == header) {
    segment = outer;
    if (outer_passed) passed = 1;
    cost += segs[outer].cost;
  } else {
    segs[outer].cost += segs[header].cost;
  }
  segs[header].cost = -1;
}
static void settle_stores(void) {
  if (store_outside_loops || !global_in_loop) return;
  for (u32 i = 0; i < seg_n; i++) if (segs[i].flags & STORES_IF_LOOPS_TOUCH_GLOBAL) segs[i].flags |= STORES;
}
static void wrote_global(void) { unstored = 0; if (loop_depth > 0) global_in_loop = 1; }
static void store(u32 at) {
  if (!unstored) return;
  if (loop_depth > 0) global_in_loop = 1;
  if (passed) { insert(at, STORE_FUEL_HERE, 0); unstored = 0; return; }
  if (cost == 0) insert(at, STORE_FUEL, segment);
  segs[segment].flags |= STORES;
  unstored = 0;
}
static void reload(u32 at) { insert(at, RELOAD_FUEL, 0); wrote_global(); }
static void passed_counter(void) { unstored = 1; passed = 1; segs[segment].flags |= PASSES; }
/** segments.ts `resolve`: the chain followed once, then shortened to one step (path compression). */
static i32 resolve(i32 s) {
  i32 root = s;
  while (segs[root].joined >= 0) root = segs[root].joined;
  while (segs[s].joined >= 0) { i32 next = segs[s].joined; segs[s].joined = root; s = next; }
  return root;
}

/**
 * The control stack: per open frame, its kind and flags, the edit index of a loop's header
 * charge (-1), a loop's outer segment or an if's unstored entry segment (-1), and the head of
 * its list of unstored paths (`unstored-paths.ts`; -1).
 */
typedef struct { i32 flags, header_edit, outer, paths; } Frame;
static Frame *frames;
static u32 frame_n, frame_cap;

// unstored-paths.ts
static List path_segment, path_next;
static void path_add(i32 frame, i32 seg) {
  push(&path_segment, seg);
  push(&path_next, frames[frame].paths);
  frames[frame].paths = path_segment.n - 1;
}
static int store_on_incoming_paths(void) {
  if (merge_links == -2 || dead) return 0;
  for (i32 l = merge_links; l >= 0; l = path_next.d[l]) {
    i32 s = resolve(path_segment.d[l]);
    if (!(segs[s].live == 1 && segs[s].cost > 0 && (segs[s].flags & PASSES) == 0)) return 0;
  }
  for (i32 l = merge_links; l >= 0; l = path_next.d[l]) segs[resolve(path_segment.d[l])].flags |= STORES;
  unstored = 0;
  return 1;
}

// ---- function-rewriter.ts: the scan ----
enum { BLOCK = 0, LOOP = 1, IF = 2, TRY = 3, FUNCTION = 4, KIND_MASK = 7, TARGETED = 8, CAUGHT = 16, TRY_BODY = 32, HAS_ELSE = 64, PENDING_UNKNOWN = 128 };
enum { PASSING_NOT_POSSIBLE = -1, FAILED = -2 };
static int try_depth, passing_body, writes_depth, not_possible, done;

static void frame_push(i32 kind, int try_body) {
  if (frame_n == frame_cap) frames = grow_records(frames, &frame_cap, frame_n, sizeof(Frame));
  frames[frame_n++] = (Frame){try_body ? kind | TRY_BODY : kind, -1, -1, -1};
  if (try_body) try_depth++;
}
static void leave_try_body(void) {
  i32 *f = &frames[frame_n - 1].flags;
  if (*f & TRY_BODY) { *f &= ~TRY_BODY; try_depth--; }
}
static i32 frame_pop(void) {
  leave_try_body();
  return frames[--frame_n].flags;
}
static void pending(i32 index) {
  if (dead || !unstored) return;
  if (cost > 0) path_add(index, segment);
  else frames[index].flags |= PENDING_UNKNOWN;
}
/** @returns whether the branch leaves the function; sets `failed` / `not_possible`. */
static int mark_target(u32 depth, int handler) {
  i32 index = (i32)frame_n - 1 - (i32)depth;
  if (depth >= frame_n) { failed = 1; return 0; }
  if (handler && index == 0 && passing_body) { not_possible = 1; return 0; }
  if (!handler && (frames[index].flags & KIND_MASK) != LOOP) pending(index);
  frames[index].flags |= handler ? TARGETED | CAUGHT : TARGETED;
  if (handler && (frames[index].flags & KIND_MASK) == LOOP && frames[index].header_edit >= 0) edits.d[frames[index].header_edit + 1] = CAUGHT_LOOP_CHARGE;
  return index == 0;
}

static void scan_control(u8 op, u32 at);

static void scan(u32 renumber_from, u32 added) {
  const u8 *sb = passing_body ? store_before_in_passing : store_before;
  // The hot path (numeric, variable, memory and constant instructions) keeps the cursor, the
  // segment's cost and the body's bounds in locals; everything else reads `pos` and `cost`, so
  // they are written back before it runs and read again after. (Globals live in linear memory:
  // the engine would reload them on every instruction.)
  const u8 *const bytes = code;
  const u32 limit = end;
  u32 p = pos;
  i32 c = cost;
  for (;;) {
    u32 at = p;
    if (at >= limit) { failed = 1; return; }
    u8 op = bytes[p++];
    if (op >= 0x45 && op <= 0xc4) { // numeric: no immediates, cost 1
      c++;
      if (sb[op]) { cost = c; store(at); }
      continue;
    }
    if (op >= 0x20 && op <= 0x24) { // variables
      c++;
      u32 immediate = p, index;
      if (immediate < limit && bytes[immediate] < 0x80) index = bytes[p++];
      else { pos = p; index = rd_u32(); p = pos; if (failed) return; }
      if (op <= 0x22 ? index >= renumber_from : index >= globals_from) move_up(immediate, index, p == immediate + 1, op <= 0x22 ? added : 1);
      continue;
    }
    if ((op >= 0x28 && op <= 0x3e) || op == 0x41 || op == 0x42) { // memory accesses, integer constants
      c++;
      if (op <= 0x3e) {
        if (sb[op]) { cost = c; store(at); }
        if (p >= limit || bytes[p] >= 0x40) { pos = p; skip_memarg(); p = pos; if (failed) return; continue; }
        p++; // a one-byte alignment without a memory index
      }
      u32 stop = p + 10 < limit ? p + 10 : limit;
      while (p < stop && (bytes[p] & 0x80)) p++;
      if (p >= stop) { failed = 1; return; }
      p++;
      continue;
    }
    c += static_cost[op];
    if (sb[op]) { cost = c; store(at); }
    pos = p;
    cost = c;
    scan_control(op, at);
    if (failed || not_possible || done) return;
    p = pos;
    c = cost;
  }
}

/** The instructions off the hot path: control, calls, and what charges or stores dynamically. */
static void scan_control(u8 op, u32 at) {
  switch (op) {
    case 0x02: skip_block_type(); frame_push(BLOCK, 0); break;
    case 0x03:
      skip_block_type(); frame_push(LOOP, 0); loop_depth++;
      frames[frame_n - 1].header_edit = dead ? -1 : (i32)edits.n;
      frames[frame_n - 1].outer = segment;
      start_segment(pos);
      break;
    case 0x04:
      skip_block_type(); frame_push(IF, 0);
      frames[frame_n - 1].outer = unstored && !dead ? segment : -1;
      start_segment(pos);
      break;
    case 0x06: skip_block_type(); frame_push(TRY, 1); writes_depth = 1; break;
    case 0x05: {
      if (frame_n == 0) { failed = 1; return; }
      i32 t = frame_n - 1;
      pending(t);
      frames[t].flags |= HAS_ELSE;
      live_at(frame_n); start_segment(pos); break;
    }
    case 0x07: case 0x19:
      if (op == 0x07) rd_u32();
      if (frame_n == 0) { failed = 1; return; }
      live_at(frame_n);
      leave_try_body();
      if (depth_limited) insert(pos, RESTORE_FRAME, 0);
      reload(pos);
      start_segment(pos);
      break;
    case 0x18:
      rd_u32();
      if (frame_n == 0) { failed = 1; return; }
      frame_pop(); live_at(frame_n + 1); start_segment(pos); break;
    case 0x1f: {
      skip_block_type();
      u32 n = rd_u32();
      for (u32 i = 0; i < n && !failed && !not_possible; i++) {
        u8 kind = rd_byte();
        if (kind <= 1) rd_u32();
        else if (kind > 3) { failed = 1; return; }
        mark_target(rd_u32(), 1);
      }
      frame_push(BLOCK, 1);
      writes_depth = 1;
      break;
    }
    case 0x0b: {
      if (frame_n == 0) { failed = 1; return; }
      i32 headerEdit = frames[frame_n - 1].header_edit, outer = frames[frame_n - 1].outer;
      i32 t = frame_n - 1;
      pending(t);
      if ((frames[t].flags & (KIND_MASK | HAS_ELSE)) == IF && outer >= 0) path_add(t, outer);
      i32 links = frames[frame_n - 1].paths;
      i32 frame = frame_pop();
      i32 kind = frame & KIND_MASK;
      if (kind == LOOP) loop_depth--;
      live_at(frame_n + 1);
      if (kind == LOOP && !(frame & TARGETED) && headerEdit >= 0) end_loop(headerEdit, outer);
      if (kind == FUNCTION) {
        if (pos != end) { failed = 1; return; }
        done = 1;
        if (passing_body) { insert(at, END_AND_LEAVE, 0); return; }
        if (!(cost == 0 && store_on_incoming_paths())) store(at);
        if (depth_limited) insert(at, END_AND_LEAVE, 0);
        return;
      }
      if (kind == IF || kind == TRY || (kind == BLOCK && (frame & TARGETED))) {
        if (frame & CAUGHT) {
          if (depth_limited) insert(pos, RESTORE_FRAME, 0);
          reload(pos);
        }
        start_segment(pos);
        if (kind != TRY && !(frame & (CAUGHT | PENDING_UNKNOWN))) merge_links = links;
      }
      break;
    }
    case 0x0c: case 0x0d: case 0xd5: case 0xd6:
      if (mark_target(rd_u32(), 0) && !passing_body) store(at);
      if (op == 0x0c) die(frame_n);
      start_segment(pos); break;
    case 0x0e: {
      u32 n = rd_u32();
      int leaves = 0;
      for (u32 i = 0; i <= n && !failed; i++) leaves = mark_target(rd_u32(), 0) || leaves;
      if (leaves && !passing_body) store(at);
      die(frame_n);
      start_segment(pos);
      break;
    }
    case 0x0f:
      if (depth_limited) insert(at, LEAVE_FRAME, 0);
      if (passing_body) always(at, PUSH_FUEL, 0);
      die(frame_n);
      start_segment(pos); break;
    case 0x12: case 0x13: case 0x15: {
      u32 target = rd_u32();
      if (op == 0x13) rd_u32();
      if (passing && (passing_body || (op == 0x12 && passing[target] == 1))) { not_possible = 1; return; }
      if (depth_limited) insert(at, LEAVE_FRAME, 0);
      die(frame_n);
      start_segment(pos); break;
    }
    case 0x00: case 0x0a: die(frame_n); start_segment(pos); break;
    case 0x08: case 0x09: rd_u32(); die(frame_n); start_segment(pos); break;
    case 0x10: {
      u32 callee = rd_u32();
      if (passing && passing[callee] == 1) {
        always(at, PASS_COUNTERS, 0);
        always(pos, TAKE_FUEL, 0);
        passed_counter();
      } else {
        store(at);
        writes_depth = 1;
        if (depth_limited && callee < imported_funcs) insert(pos, RESTORE_FRAME, 0);
        reload(pos);
      }
      if (try_depth > 0) start_segment(pos);
      break;
    }
    case 0x14: case 0x11:
      rd_u32();
      if (op == 0x11) rd_u32();
      writes_depth = 1;
      if (depth_limited) insert(pos, RESTORE_FRAME, 0);
      reload(pos);
      if (try_depth > 0) start_segment(pos);
      break;
    case 0x40: {
      insert(at, DYNAMIC_PAGES, 0); wrote_global();
      u32 memory = rd_u32();
      insert(pos, DENIED_MEMORY_GROW, memory);
      break;
    }
    case 0x25: case 0x26: case 0x3f: case 0xd2: rd_u32(); break;
    case 0x1c: { u32 n = rd_u32(); for (u32 i = 0; i < n && !failed; i++) skip_value_type(); break; }
    case 0x43: skip(4); break;
    case 0x44: skip(8); break;
    case 0xd0: rd_s33(); break;
    case 0xfc: {
      u32 sub = rd_u32();
      if (sub == 8 || sub == 10 || sub == 11) { insert(at, DYNAMIC_MEMORY, 0); wrote_global(); }
      else if (sub == 12 || sub == 14 || sub == 17) { insert(at, DYNAMIC_TABLE, 0); wrote_global(); }
      else if (sub == 15) {
        insert(at, DYNAMIC_TABLE, 0); wrote_global();
        u32 table = rd_u32();
        insert(pos, DENIED_TABLE_GROW, table);
        break;
      }
      if (!fast && prefixed_can_trap(op, sub)) store(at);
      skip_fc(sub);
      break;
    }
    case 0xfd: case 0xfe: {
      u32 sub = rd_u32();
      if (!fast && prefixed_can_trap(op, sub)) store(at);
      if (op == 0xfd) skip_fd(sub); else skip_fe(sub);
      break;
    }
    default:
      if (!(op == 0x01 || op == 0x1a || op == 0x1b || op == 0xd1 || op == 0xd3 || op == 0xd4)) { failed = 1; return; }
  }
}

// ---- injection.ts: the inserted sequences ----
// Written through a cursor with no checks, into room `emit_edits` makes before each run and edit.
enum { LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22, GLOBAL_GET = 0x23, GLOBAL_SET = 0x24 };
/** The most bytes one edit inserts (enter_frame: 7 instructions with 5-byte indices, a 5-byte limit, a block type). */
#define EDIT_ROOM 96
static u32 operand_local, result_local, saved_depth, prev_depth, fuel_local;
static i32 depth_param;

static inline u8 *leb_u32(u8 *w, u32 v) {
  while (v >= 0x80) { *w++ = (v & 0x7f) | 0x80; v >>= 7; }
  *w++ = v;
  return w;
}
static inline u8 *leb_s64(u8 *w, i64 v) {
  for (;;) {
    u8 byte = v & 0x7f;
    v >>= 7;
    if ((v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40))) { *w++ = byte; return w; }
    *w++ = byte | 0x80;
  }
}
/**
 * A run of the original body. Short runs go 8 bytes at a time, overshooting by up to 7
 * (the room reserved per body and the window's slack cover it): memory.copy is a call into
 * the engine, worth it only for longer runs, and a byte loop costs a nanosecond a byte.
 */
static inline u8 *copy_run(u8 *w, const u8 *from, u32 n) {
  if (n > 64) { __builtin_memcpy(w, from, n); return w + n; }
  for (u32 i = 0; i < n; i += 8) { u64 v; __builtin_memcpy(&v, from + i, 8); __builtin_memcpy(w + i, &v, 8); }
  return w + n;
}
static inline u8 *op_with(u8 *w, u8 op, u32 index) { *w++ = op; return leb_u32(w, index); }
static inline u8 *raw(u8 *w, const u8 *from, u32 n) { for (u32 i = 0; i < n; i++) w[i] = from[i]; return w + n; }
static inline u8 *store_fuel(u8 *w) { w = op_with(w, LOCAL_GET, fuel_local); return op_with(w, GLOBAL_SET, g_fuel); }
static inline u8 *load_fuel(u8 *w) { w = op_with(w, GLOBAL_GET, g_fuel); return op_with(w, LOCAL_SET, fuel_local); }
static inline u8 *store_and_check(u8 *w) {
  w = op_with(w, LOCAL_TEE, fuel_local); w = op_with(w, GLOBAL_SET, g_fuel); w = op_with(w, LOCAL_GET, fuel_local);
  static const u8 tail[] = {0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b};
  return raw(w, tail, sizeof tail);
}
static inline u8 *charge(u8 *w, i32 amount, int with_store) {
  w = op_with(w, LOCAL_GET, fuel_local); *w++ = 0x42; w = leb_s64(w, amount); *w++ = 0x7d;
  if (with_store) return store_and_check(w);
  w = op_with(w, LOCAL_TEE, fuel_local);
  static const u8 check[] = {0x42, 0x00, 0x53, 0x04, 0x40};
  w = raw(w, check, sizeof check);
  w = op_with(w, LOCAL_GET, fuel_local); w = op_with(w, GLOBAL_SET, g_fuel); *w++ = 0x00; *w++ = 0x0b;
  return w;
}
static u8 *add_to_global(u8 *w, u32 global, i32 amount) {
  w = op_with(w, GLOBAL_GET, global); *w++ = 0x42; w = leb_s64(w, amount); *w++ = 0x7c; return op_with(w, GLOBAL_SET, global);
}
static u8 *dynamic_charge(u8 *w, int shift) {
  w = op_with(w, LOCAL_TEE, operand_local); w = op_with(w, LOCAL_GET, fuel_local); w = op_with(w, LOCAL_GET, operand_local); *w++ = 0xad;
  if (shift > 0) { *w++ = 0x42; *w++ = shift; *w++ = 0x86; }
  if (shift < 0) { *w++ = 0x42; *w++ = -shift; *w++ = 0x88; }
  *w++ = 0x7d;
  return store_and_check(w);
}
static u8 *record_denied_grow(u8 *w, int memory, u32 index) {
  w = op_with(w, LOCAL_TEE, result_local);
  static const u8 is_minus_one[] = {0x41, 0x7f, 0x46, 0x04, 0x40};
  w = raw(w, is_minus_one, sizeof is_minus_one);
  if (memory) w = op_with(w, 0x3f, index);
  else { *w++ = 0xfc; w = op_with(w, 16, index); }
  *w++ = 0xad; w = op_with(w, LOCAL_GET, operand_local); *w++ = 0xad; *w++ = 0x7c;
  w = op_with(w, GLOBAL_SET, memory ? g_grow_denied : g_table_grow_denied); *w++ = 0x0b;
  return op_with(w, LOCAL_GET, result_local);
}
static inline u8 *restore_frame(u8 *w) { w = op_with(w, LOCAL_GET, saved_depth); return op_with(w, GLOBAL_SET, g_depth); }
static u8 *enter_frame(u8 *w, int writes_global) {
  if (depth_param >= 0 && writes_global) { w = op_with(w, GLOBAL_GET, g_depth); w = op_with(w, LOCAL_SET, prev_depth); }
  if (depth_param >= 0) w = op_with(w, LOCAL_GET, depth_param);
  else w = op_with(w, GLOBAL_GET, g_depth);
  *w++ = 0x41; *w++ = 0x01; *w++ = 0x6a; w = op_with(w, LOCAL_TEE, saved_depth);
  if (writes_global) { w = op_with(w, GLOBAL_SET, g_depth); w = op_with(w, LOCAL_GET, saved_depth); }
  *w++ = 0x41; w = leb_s64(w, stack_depth);
  *w++ = 0x4b; *w++ = 0x04; *w++ = 0x40;
  if (depth_param >= 0) { w = store_fuel(w); w = restore_frame(w); }
  *w++ = 0x00; *w++ = 0x0b;
  return w;
}
static u8 *leave_frame(u8 *w) {
  if (depth_param >= 0) { w = op_with(w, LOCAL_GET, prev_depth); return op_with(w, GLOBAL_SET, g_depth); }
  w = op_with(w, LOCAL_GET, saved_depth); *w++ = 0x41; *w++ = 0x01; *w++ = 0x6b;
  return op_with(w, GLOBAL_SET, g_depth);
}

// ---- edits.ts: splicing the edits into a copy of the body ----
/**
 * Room in the output for `n` more bytes at `w` (8 more: `copy_run` overshoots), which may move
 * the buffer; null once the body, which starts at offset `body_at`, is past the engine's limit.
 */
static u8 *room_for(u8 *w, u32 n, u32 body_at) {
  u32 used = w - out.d;
  if (used - body_at - 5 > max_body_bytes) return 0; // the body so far, after the 5 bytes kept for its size
  out.n = used;
  buf_reserve(&out, n + 8);
  return out.d + used;
}

static u8 *emit_edits(u8 *w, u32 body_at, u32 from, const u8 *block_type, u32 block_type_length, i32 profile_calls, i32 profile_fuel, int passing_fn) {
  const i32 *list = edits.d;
  u32 bump = 0;
  for (u32 i = 0; i <= edits.n; i += 3) {
    u32 at = i < edits.n ? (u32)list[i] : end;
    u32 run = at > from ? at - from : 0;
    if (w + run + EDIT_ROOM + 8 > out.d + out.cap && !(w = room_for(w, run + EDIT_ROOM, body_at))) return 0;
    if (at > from) {
      u8 *start = w;
      w = copy_run(w, code + from, at - from);
      while (bump < bumps.n && (u32)bumps.d[bump] < at) { start[bumps.d[bump] - from] += bump_by.d[bump]; bump++; }
      from = at;
    }
    if (i == edits.n) break;
    i32 arg = list[i + 2];
    switch (list[i + 1]) {
      case CAUGHT_LOOP_CHARGE:
        if (depth_limited) w = restore_frame(w);
        w = load_fuel(w);
        // fall through
      case CHARGE:
        if (segs[arg].cost > 0) {
          w = charge(w, segs[arg].cost, (segs[arg].flags & STORES) != 0);
          if (profile_fuel >= 0) w = add_to_global(w, profile_fuel, segs[arg].cost);
        }
        break;
      case STORE_FUEL: if (segs[arg].cost == 0) w = store_fuel(w); break;
      case STORE_FUEL_HERE: w = store_fuel(w); break;
      case RENUMBER_INDEX: w = leb_u32(w, arg); while (code[from] & 0x80) from++; from++; break;
      case PUSH_FUEL: w = op_with(w, LOCAL_GET, fuel_local); break;
      case PASS_COUNTERS: w = op_with(w, LOCAL_GET, fuel_local); if (depth_limited) w = op_with(w, LOCAL_GET, saved_depth); break;
      case TAKE_FUEL: w = op_with(w, LOCAL_SET, fuel_local); break;
      case RELOAD_FUEL: w = load_fuel(w); break;
      case DYNAMIC_MEMORY: w = dynamic_charge(w, -6); break;
      case DYNAMIC_TABLE: w = dynamic_charge(w, 0); break;
      case DYNAMIC_PAGES: w = dynamic_charge(w, 10); break;
      case DENIED_MEMORY_GROW: w = record_denied_grow(w, 1, arg); break;
      case DENIED_TABLE_GROW: w = record_denied_grow(w, 0, arg); break;
      case ENTER_FRAME:
        if (depth_limited) w = enter_frame(w, writes_depth);
        *w++ = 0x02; w = raw(w, block_type, block_type_length); break;
      case COUNT_CALL: w = add_to_global(w, profile_calls, 1); break;
      case LEAVE_FRAME: if (writes_depth) w = leave_frame(w); break;
      case END_AND_LEAVE:
        *w++ = 0x0b;
        if (depth_limited && writes_depth) w = leave_frame(w);
        if (passing_fn) w = op_with(w, LOCAL_GET, fuel_local);
        break;
      case RESTORE_FRAME: w = restore_frame(w); break;
    }
  }
  return w;
}

static void clear_body_state(int passing_fn) {
  edits.n = bumps.n = bump_by.n = path_segment.n = path_next.n = 0;
  seg_n = frame_n = 0;
  store_outside_loops = !passing_fn;
  global_in_loop = 0; segment = -1; loop_depth = 0; cost = 0; unstored = 0; dead = 0; merge_links = -2;
  try_depth = 0; passing_body = passing_fn; writes_depth = !passing_fn; failed = 0; not_possible = 0; done = 0;
}

/** Forgets the last module: everything allocated is free again. */
EXPORT(reset) void reset(void) {
  heap_top = (u32)&__heap_base;
  List *lists[] = {&edits, &bumps, &bump_by, &path_segment, &path_next};
  for (u32 i = 0; i < sizeof lists / sizeof lists[0]; i++) *lists[i] = (List){0};
  segs = 0; frames = 0; seg_cap = frame_cap = 0;
  out = (Buf){0};
}

/**
 * Rewrites the body at [start, end) of the module at `module` (positioned at its local
 * declarations) and appends it, size-prefixed, to the output. `profile_calls` and
 * `profile_fuel` are the function's profile globals, or -1.
 * @returns the output's length, PASSING_NOT_POSSIBLE, or
 *   FAILED (the host redoes the body in TypeScript, which says why)
 */
EXPORT(rewrite_body) int rewrite_body(const u8 *module, u32 start, u32 body_end, u32 params, int passing_fn,
                                      const u8 *block_type, u32 block_type_length, i32 profile_calls, i32 profile_fuel) {
  code = module; pos = start; end = body_end;
  clear_body_state(passing_fn);
  u32 groups = rd_u32();
  u32 groups_start = pos;
  u64 locals = params;
  for (u32 i = 0; i < groups && !failed; i++) { locals += rd_u32(); skip_value_type(); }
  if (failed) return FAILED;
  u32 locals_end = pos;
  u32 added = passing_fn ? (depth_limited ? 2 : 1) : 0;
  locals += added;
  if (locals + 5 > max_locals) return FAILED;
  // Injector.forFunction
  operand_local = locals; result_local = locals + 1; saved_depth = locals + 2; prev_depth = locals + 4;
  fuel_local = passing_fn ? params : locals + 3;
  depth_param = passing_fn && depth_limited ? (i32)params + 1 : -1;

  frame_push(FUNCTION, 0);
  if (depth_limited || passing_fn) insert(pos, ENTER_FRAME, 0);
  if (!passing_fn) reload(pos);
  if (profile_calls >= 0) insert(pos, COUNT_CALL, 0);
  start_segment(pos);
  scan(passing_fn ? params : 0xffffffffu, added);
  if (not_possible) return PASSING_NOT_POSSIBLE;
  if (failed) return FAILED;
  segs[segment].cost = cost;
  settle_stores();

  // The body goes straight into the output after room for its size, moved down once known.
  buf_reserve(&out, 5 + 5 + (locals_end - groups_start) + 6 + EDIT_ROOM);
  u32 body_at = out.n;
  u8 *w = out.d + body_at + 5;
  w = leb_u32(w, groups + 3);
  w = raw(w, code + groups_start, locals_end - groups_start);
  static const u8 scratch_locals[] = {0x03, 0x7f, 0x01, 0x7e, 0x01, 0x7f};
  w = raw(w, scratch_locals, sizeof scratch_locals);
  w = emit_edits(w, body_at, locals_end, block_type, block_type_length, profile_calls, profile_fuel, passing_fn);
  u8 *size_at = out.d + body_at;
  u32 size = w ? w - (size_at + 5) : 0;
  if (!w || size > max_body_bytes) { out.n = body_at; return FAILED; }
  u8 *content = leb_u32(size_at, size);
  if (content != size_at + 5) __builtin_memmove(content, size_at + 5, size);
  out.n = content + size - out.d;
  return out.n;
}
