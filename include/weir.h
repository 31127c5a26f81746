/*
 * weir.h - the public interface of libweir, and its reference manual.
 *
 * weir applies YARA rules to many concurrent streams of data that arrive in
 * pieces.  One compiled rule set (weir_rules_t) is shared by any number of
 * scanners; a scanner (weir_scanner_t) holds a table of streams, each named by
 * a 16-byte id and each keeping only a small context between chunks.
 *
 * Data path:  rule text -> weir_compile_*() -> weir_rules_t
 *             weir_scanner_new(rules) -> weir_scan_chunk(id, data) ... -> events
 *             weir_stream_close(id) -> final results, exactly YARA's on the
 *             whole stream, whatever the chunking.
 *
 * Conventions, for every function below unless it says otherwise:
 *  - A fallible call returns weir_status_t: WEIR_OK (0) or a negative error.
 *    Results come back through the last out-parameter, set to NULL/0 on failure.
 *  - Buffers are (const void *data, size_t len).  The library keeps no pointer
 *    to caller data after a call returns.  Data handed to a callback is owned by
 *    the library and valid only during that callback.
 *  - Callbacks take the user pointer last.  A non-zero return from a callback
 *    stops the call in progress, which then returns WEIR_ESTOPPED.
 *  - Every *_free(NULL) is a no-op.
 *  - Thread safety: a weir_rules_t is immutable after compilation or loading and
 *    may be shared by any number of threads and scanners.  A weir_scanner_t is
 *    not thread safe: use one scanner per thread, or serialise calls on it.
 */
#ifndef WEIR_H
#define WEIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WEIR_API __attribute__((visibility("default")))
#define WEIR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define WEIR_API
#define WEIR_WARN_UNUSED
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */

#define WEIR_VERSION_MAJOR 0
#define WEIR_VERSION_MINOR 1
#define WEIR_VERSION_PATCH 0
#define WEIR_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0". */
WEIR_API const char *weir_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */

/*
 * X(NAME, value, message).  WEIR_OK is 0; errors are negative and stable
 * across releases (new ones are appended).
 */
#define WEIR_STATUS_MAP(X)                                                                         \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ECOMPILE, -3, "rules failed to compile (see diagnostics)")                                   \
    X(EIO, -4, "input/output error")                                                               \
    X(EFORMAT, -5, "not a weir compiled-rules file, or the file is corrupt")                       \
    X(EVERSION, -6, "compiled by an incompatible version of weir")                                 \
    X(ENOTFOUND, -7, "no such stream")                                                             \
    X(ESTOPPED, -8, "stopped by a callback")                                                       \
    X(EENGINE, -9, "the Vectorscan engine reported an error")                                      \
    X(ELIMIT, -10, "a configured limit was exceeded")                                              \
    X(ESTATE, -11, "call not allowed in the current state")                                        \
    X(EVAR, -12, "no such external variable, or a value of another type")                          \
    X(ERULES, -13, "the snapshot belongs to other compiled rules")

typedef enum weir_status {
#define WEIR__STATUS_ENUM(name, value, msg) WEIR_##name = (value),
    WEIR_STATUS_MAP(WEIR__STATUS_ENUM)
#undef WEIR__STATUS_ENUM
} weir_status_t;

/* A static message for a status code; "unknown status" for others. */
WEIR_API const char *weir_strerror(weir_status_t status);

/* ------------------------------------------------------------------------ */
/* Stream ids                                                                */

/* A stream id: 16 bytes, usually a UUID.  Compared bytewise. */
typedef struct weir_id {
    uint8_t bytes[16];
} weir_id_t;

/* Text form: 36 characters "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL. */
#define WEIR_ID_STRLEN 37

/*
 * Parses the canonical UUID form (hex digits in either case, with the four
 * dashes).  Returns WEIR_EINVAL, leaving *out untouched, on anything else.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_id_parse(const char *text, weir_id_t *out);

/* Writes the lower-case canonical form of id into buf[WEIR_ID_STRLEN]. */
WEIR_API void weir_id_format(const weir_id_t *id, char buf[WEIR_ID_STRLEN]);

/*
 * Derives a stable id from a name: the RFC 4122 version-5 (SHA-1) UUID of the
 * name in weir's own namespace (WEIR_ID_NAMESPACE).  The same name always gives
 * the same id, on every machine.
 */
#define WEIR_ID_NAMESPACE "6f1c1d3e-5a0b-4c1e-9b7d-2f8e4a6c9d01"
WEIR_API void weir_id_from_name(const void *name, size_t len, weir_id_t *out);

/* ------------------------------------------------------------------------ */
/* Compiling rules                                                           */

typedef struct weir_rules weir_rules_t;
typedef struct weir_diags weir_diags_t;

typedef enum weir_severity { WEIR_SEV_ERROR = 0, WEIR_SEV_WARNING = 1 } weir_severity_t;

/* One diagnostic.  Owned by its weir_diags_t. */
typedef struct weir_diag {
    weir_severity_t severity;
    const char *file;        /* the name given for the source, never NULL */
    uint32_t line;           /* 1-based; 0 when the problem has no place  */
    uint32_t column;         /* 1-based, in bytes                         */
    const char *message;     /* one line, no trailing newline             */
    const char *source_line; /* the offending line of source, or ""       */
} weir_diag_t;

/* At most this many errors are collected from one compilation. */
#define WEIR_MAX_ERRORS 32

/*
 * Integer reads (uint8(o) ... int32be(o)).  A stream cannot be read back, so each stream keeps
 * its first bytes: as many as the rules' constant offsets need (uint16(0) keeps 2), at most
 * WEIR_HEAD_MAX (a read past that is a compile error); when some offset is only known at scan
 * time (uint32(uint32(0x3c)), a loop variable) at least WEIR_HEAD_DEFAULT, with a warning.  A
 * read beyond the bytes kept, or beyond the bytes received so far, is undefined, as YARA treats
 * a read beyond the end of a file.
 */
#define WEIR_HEAD_MAX 65536u
#define WEIR_HEAD_DEFAULT 4096u

/*
 * External variables: values a condition can use by name (`app == "sshd"`, `level > 3`,
 * `host matches /^web[0-9]+$/`), declared when rules are compiled, each with a type and a
 * default value, as YARA's `-d name=value`.  A scanner can change a variable's value for all
 * its streams (weir_scanner_set_var) and for one stream (weir_stream_set_var): a stream's own
 * value wins over the scanner's, which wins over the default.  Booleans behave as the integers
 * 0 and 1 in conditions, as in YARA; strings are bytes (they may hold NUL) and support the
 * comparisons and contains, icontains, startswith, istartswith, endswith, iendswith, iequals
 * and matches.
 */
typedef enum weir_var_type {
    WEIR_VAR_INTEGER = 1,
    WEIR_VAR_BOOLEAN = 2,
    WEIR_VAR_STRING = 3
} weir_var_type_t;

typedef struct weir_var {
    const char *name; /* an identifier: [A-Za-z_][A-Za-z0-9_]*, not a keyword */
    weir_var_type_t type;
    int64_t integer;    /* WEIR_VAR_INTEGER; WEIR_VAR_BOOLEAN as 0 or 1 */
    const char *string; /* WEIR_VAR_STRING: string_len bytes (NULL when 0) */
    size_t string_len;
} weir_var_t;

/* One source of rules for weir_compile. */
typedef struct weir_source {
    const char *path; /* the file to read when text is NULL; always the name in diagnostics */
    const void *text; /* the rules in memory, len bytes (NULL: read path) */
    size_t len;
    const char *ns; /* namespace; NULL for "default" */
} weir_source_t;

typedef struct weir_compile_options {
    const weir_var_t *vars; /* external variables with their default values */
    size_t nvars;
} weir_compile_options_t;

/*
 * Compiles rules from n sources in one compilation (a rule may use rules of its namespace from
 * earlier sources).  options may be NULL.  A variable declared twice, or with a bad name or
 * type, is a compile error in *diags.  Otherwise as weir_compile_files below.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_compile(const weir_source_t *sources, size_t n,
                                                     const weir_compile_options_t *options,
                                                     weir_rules_t **out, weir_diags_t **diags);

/*
 * Compiles YARA rules from files.  Each file is read whole; its diagnostics
 * name it by the path given.  ns[i] names the namespace of paths[i]'s rules
 * ("default" when ns is NULL or ns[i] is NULL).
 *
 * On success *out is the compiled rules (free with weir_rules_free).  *diags,
 * when diags is non-NULL, receives every error and warning (free with
 * weir_diags_free), even on success (warnings) and even when empty.
 *
 * Returns WEIR_OK; WEIR_ECOMPILE if any rule has an error (all errors up to
 * WEIR_MAX_ERRORS are in *diags); WEIR_EIO if a file cannot be read (also
 * reported in *diags); WEIR_EINVAL for NULL or empty arguments; WEIR_ENOMEM;
 * WEIR_EENGINE if Vectorscan rejects the combined database.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_compile_files(const char *const *paths,
                                                           const char *const *ns, size_t n,
                                                           weir_rules_t **out,
                                                           weir_diags_t **diags);

/*
 * Compiles YARA rules from memory.  name is what diagnostics call the source
 * (e.g. "<stdin>"); ns is the namespace (NULL for "default").  Otherwise as
 * weir_compile_files.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_compile_buffer(const void *text, size_t len,
                                                            const char *name, const char *ns,
                                                            weir_rules_t **out,
                                                            weir_diags_t **diags);

/* Number of diagnostics, and one of them (NULL when i is out of range). */
WEIR_API size_t weir_diags_count(const weir_diags_t *diags);
WEIR_API const weir_diag_t *weir_diags_get(const weir_diags_t *diags, size_t i);
WEIR_API void weir_diags_free(weir_diags_t *diags);

/*
 * Saves compiled rules to a file: magic, format version, library version, a
 * checksum, the rules and the serialized Vectorscan database.  The file is
 * written to a temporary name and renamed, so a crash never leaves a torn file.
 * Returns WEIR_OK, WEIR_EINVAL, WEIR_EIO, WEIR_ENOMEM or WEIR_EENGINE.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_rules_save(const weir_rules_t *rules,
                                                        const char *path);

/*
 * Loads rules saved by weir_rules_save.  Returns WEIR_OK; WEIR_EIO if the file
 * cannot be read; WEIR_EFORMAT for a file that is not weir's, truncated, or
 * fails its checksum; WEIR_EVERSION for a file of another format version or
 * built for another platform; WEIR_ENOMEM; WEIR_EENGINE.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_rules_load(const char *path, weir_rules_t **out);

/* The same two, to and from memory.  *buf is freed by the caller with free(). */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_rules_serialize(const weir_rules_t *rules, void **buf,
                                                             size_t *len);
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_rules_deserialize(const void *buf, size_t len,
                                                               weir_rules_t **out);

WEIR_API void weir_rules_free(weir_rules_t *rules);

/* A rule's meta value. */
typedef enum weir_meta_type {
    WEIR_META_STRING = 0,
    WEIR_META_INTEGER = 1,
    WEIR_META_BOOLEAN = 2
} weir_meta_type_t;

typedef struct weir_meta {
    const char *key;
    weir_meta_type_t type;
    const char *string; /* WEIR_META_STRING: NUL-terminated, may hold escapes' bytes */
    size_t string_len;
    int64_t integer; /* WEIR_META_INTEGER, and WEIR_META_BOOLEAN as 0 or 1 */
} weir_meta_t;

/* Read-only description of one rule, owned by the rules. */
typedef struct weir_rule_info {
    uint32_t index;   /* 0..weir_rules_count()-1, in source order       */
    const char *ns;   /* namespace                                      */
    const char *name; /* rule identifier                                */
    const char *const *tags;
    size_t ntags;
    const weir_meta_t *meta;
    size_t nmeta;
    int is_private; /* private rules never produce events              */
    int is_global;
    int fires_live; /* 1: can fire as data arrives; 0: only at close   */
} weir_rule_info_t;

WEIR_API size_t weir_rules_count(const weir_rules_t *rules);
/* NULL when i is out of range. */
WEIR_API const weir_rule_info_t *weir_rules_info(const weir_rules_t *rules, size_t i);

/* The external variables the rules were compiled with, with their default values (owned by the
   rules); NULL when i is out of range. */
WEIR_API size_t weir_rules_var_count(const weir_rules_t *rules);
WEIR_API const weir_var_t *weir_rules_var(const weir_rules_t *rules, size_t i);

/* ------------------------------------------------------------------------ */
/* Scanning streams                                                          */

typedef struct weir_scanner weir_scanner_t;

/*
 * Event: a rule fired on a stream, the first time its condition held.  Comes
 * once per rule per stream (until the stream is reset), never for a private
 * rule.  Rules whose truth more data could revoke (e.g. `not $a`, `#a == 3`)
 * fire only when the stream is closed; weir_rule_info_t.fires_live tells which.
 */
typedef struct weir_match_event {
    weir_id_t stream;
    const weir_rule_info_t *rule; /* namespace, name, tags, meta           */
    uint64_t offset;              /* stream bytes received when the rule fired        */
    uint64_t line;                /* 1-based number of the line it fired on (0 when it
                                     fired at the close of a stream with no bytes)     */
    int at_close;                 /* 1 when it fired during weir_stream_close          */
    const char *const *trace_ids; /* distinct trace ids, in order of matches */
    size_t ntrace_ids;
} weir_match_event_t;

typedef int (*weir_match_cb)(const weir_match_event_t *event, void *user);

/* One match of one string. */
typedef struct weir_string_match {
    const char *string_id; /* "$a"                                          */
    uint64_t offset;       /* absolute offset in the stream                 */
    uint32_t length;       /* bytes matched                                 */
    const uint8_t *data;   /* the first data_len matched bytes (see below)  */
    uint32_t data_len;
    const char *trace_id; /* trace id of the line that holds the match end */
    int is_hex;           /* a hex string: yara prints its data as hex bytes */
} weir_string_match_t;

/* A matching rule of a stream, with its strings' matches. */
typedef struct weir_rule_result {
    weir_id_t stream;
    const weir_rule_info_t *rule;
    const weir_string_match_t *matches; /* non-private strings, by string then offset */
    size_t nmatches;
} weir_rule_result_t;

typedef int (*weir_result_cb)(const weir_rule_result_t *result, void *user);

/*
 * How the trace id of a line is found (weir_scanner_options_t.trace_mode).  Only the first
 * max_line bytes of a line are searched; an id longer than 256 bytes is cut; an empty id ("",
 * an empty JSON string, an empty group) is an id.  JSON: the line is read only as far as the
 * field (its first occurrence); a string value is unescaped (\uXXXX to UTF-8), a number, true,
 * false or null is taken as written; an object or array value, a missing field or a line that
 * is not a JSON object give none.  REGEX: a line where the group takes no part gives none.
 */
typedef enum weir_trace_mode {
    WEIR_TRACE_QUOTED = 0, /* the last double-quoted string of the line (the default); a
                              backslash escapes the next byte */
    WEIR_TRACE_JSON = 1,   /* the value of field trace_arg of a line that is a JSON object
                              ("a.b" names field b of object field a) */
    WEIR_TRACE_REGEX = 2,  /* the first capture group of the POSIX extended regular
                              expression trace_arg, at its first match in the line */
    WEIR_TRACE_NONE = 3    /* no trace ids */
} weir_trace_mode_t;

/* Scanner options, set at creation.  Zero means the default. */
typedef struct weir_scanner_options {
    /* Bytes of each match kept for weir_string_match_t.data: 0 keeps none
     * (the default), at most WEIR_MAX_MATCH_DATA. */
    uint32_t match_data;
    /* Longest line kept while looking for its trace id; the rest of a longer
     * line is not searched.  Default WEIR_DEFAULT_MAX_LINE. */
    uint32_t max_line;
    /* Trace ids: weir_trace_mode_t, and its field name or regular expression. */
    uint32_t trace_mode;
    const char *trace_arg;
    /* Record mode (log alerting): each line, without its newline, is a file of its own,
       evaluated when the line ends.  Offsets, filesize, anchors and integer reads are then
       relative to the line; every non-private rule the line matches is an event, once per
       line (line = its number, trace_ids = the line's trace id, at_close = 0), and nothing
       fires in the middle of a line.  weir_stream_results and weir_stream_close report the
       last line if it has no newline yet (at_close = 1), and nothing otherwise.  Default 0:
       the whole stream is one file and a rule fires once per stream. */
    int records;
    /* Memory budget for stream contexts, in bytes (weir_memory_usage); 0: none.  Over it,
       the least recently used streams are evicted to compact snapshots and restored on their
       next use, with identical results. */
    size_t memory_limit;
    /* Matches kept per string per stream (YARA's limit, WEIR_MAX_STRING_MATCHES, by default
       and at most): the matches past it are dropped, as YARA drops them, so conditions count
       at most this many.  Lower it to bound the memory of streams that match a lot. */
    uint32_t max_matches;
    /* Where evicted streams' snapshots go: NULL keeps them in memory (counted in
       weir_memory_usage); a directory: an LMDB store created there (its contents are
       temporary and removed when the scanner is freed; weir_scanner_new returns WEIR_EIO
       when it cannot be created).  A stream evicted there costs no memory at all. */
    const char *spill_dir;
    /* Most steps (instructions) one evaluation of one rule's condition may take, so that no
       rule can stall the scanner (a `for` loop over a huge range, say).  A condition that runs
       out counts as not holding at that evaluation, is reported to the limit callback
       (WEIR_LIMIT_EVAL_STEPS), and is not evaluated again in that stream before its close (or,
       in record mode, its next line).  Default WEIR_DEFAULT_MAX_EVAL_STEPS. */
    uint64_t max_eval_steps;
    /* Most streams the scanner holds at once, live, evicted or spilled.  Feeding, opening or
       restoring one more stream returns WEIR_ELIMIT and changes nothing (close streams, or
       weir_scanner_expire, to make room).  Default WEIR_DEFAULT_MAX_STREAMS. */
    uint64_t max_streams;
} weir_scanner_options_t;

#define WEIR_MAX_MATCH_DATA 512
#define WEIR_DEFAULT_MAX_LINE 65536
/* Matches kept per string per stream, as YARA (yara 4.2: 1,000,000). */
#define WEIR_MAX_STRING_MATCHES 1000000
/* About 10 to 50 ms of one core. */
#define WEIR_DEFAULT_MAX_EVAL_STEPS 10000000u
#define WEIR_DEFAULT_MAX_STREAMS 16777216u

/*
 * Checks a trace mode and its argument as weir_scanner_new would (which returns WEIR_EINVAL
 * for the same errors), to tell a user why: for WEIR_TRACE_JSON a field path whose names are
 * not empty, for WEIR_TRACE_REGEX a POSIX extended regular expression that compiles and has a
 * capture group.  arg is ignored by WEIR_TRACE_QUOTED and WEIR_TRACE_NONE.  On an error, msg
 * (msglen bytes, may be 0) receives one line without the option's name, e.g. "unmatched ( or
 * \(" or "no capture group: put the trace id in ( )".  Thread safe.
 * Returns WEIR_OK, WEIR_EINVAL (also for a NULL msg with msglen > 0) or WEIR_ENOMEM.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_trace_check(uint32_t mode, const char *arg, char *msg,
                                                         size_t msglen);

/*
 * Creates a scanner over rules, which must outlive it.  options may be NULL.
 * Returns WEIR_OK, WEIR_EINVAL, WEIR_ENOMEM or WEIR_EENGINE.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scanner_new(const weir_rules_t *rules,
                                                         const weir_scanner_options_t *options,
                                                         weir_scanner_t **out);

/* Frees the scanner and every stream it holds, without final evaluation. */
WEIR_API void weir_scanner_free(weir_scanner_t *scanner);

/* Sets the match-event callback (NULL for none). */
WEIR_API void weir_scanner_set_callback(weir_scanner_t *scanner, weir_match_cb cb, void *user);

/*
 * Limits reached while scanning.  Scanning goes on; what the limit cost is stated below, and
 * the limit callback (weir_scanner_set_limit_callback) hears of it, as yara warns of "too many
 * matches".  weir's own limits, with their defaults, are listed in docs/semantics.md (Limits).
 */
typedef enum weir_limit_kind {
    /* A string reached max_matches matches in a stream (once per string and stream): its
       later matches are dropped, as YARA drops them, so counts and offsets stop there. */
    WEIR_LIMIT_MATCHES = 1,
    /* A rule's condition ran out of max_eval_steps: it counts as not holding at this
       evaluation.  Reported at each evaluation that runs out: once while the stream runs
       (after which the rule waits for close), and again at close (at_close = 1) if the final
       evaluation runs out too, in which case the rule does not match. */
    WEIR_LIMIT_EVAL_STEPS = 2
} weir_limit_kind_t;

typedef struct weir_limit_event {
    weir_id_t stream;
    weir_limit_kind_t kind;
    const weir_rule_info_t *rule; /* the rule (for WEIR_LIMIT_MATCHES, the string's rule)  */
    const char *string_id;        /* WEIR_LIMIT_MATCHES: the string, "$a"; else NULL    */
    uint64_t limit;               /* the limit reached: max_matches or max_eval_steps     */
    uint64_t offset;              /* MATCHES: where the last match kept ends; EVAL_STEPS:
                                     where the evaluation was (a line end, or the end)  */
    int at_close;                 /* reached by the evaluation at close or results        */
} weir_limit_event_t;

typedef void (*weir_limit_cb)(const weir_limit_event_t *event, void *user);

/* Sets the callback told of limits reached (NULL: none, the default).  It may not call the
   scanner. */
WEIR_API void weir_scanner_set_limit_callback(weir_scanner_t *scanner, weir_limit_cb cb,
                                              void *user);

/*
 * Sets external variable var->name to var's value for every stream of the scanner (a stream's
 * own value, from weir_stream_set_var, still wins).  The value is copied.  It applies to
 * evaluations from now on: a rule that already fired stays fired, so set values before
 * feeding data.  var->type must be the declared type.
 * Returns WEIR_OK; WEIR_EINVAL for NULL arguments; WEIR_EVAR when the rules declare no such
 * variable or declare it with another type; WEIR_ENOMEM.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scanner_set_var(weir_scanner_t *scanner,
                                                             const weir_var_t *var);

/*
 * Sets external variable var->name for stream id only (typically its host or application),
 * opening the stream if it is new.  Kept until the stream is closed or reset.  Otherwise as
 * weir_scanner_set_var.  Returns WEIR_OK, WEIR_EINVAL, WEIR_EVAR, WEIR_ENOMEM, WEIR_ELIMIT.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_set_var(weir_scanner_t *scanner,
                                                            const weir_id_t *id,
                                                            const weir_var_t *var);

/*
 * Feeds the next bytes of stream id, opening it if it is new (len may be 0:
 * that only opens it).  Lines end at
 * '\n'; rules are evaluated at each line end, so which rule fires on which line
 * never depends on how the bytes were chunked.  Match events are delivered
 * from inside this call.
 * Returns WEIR_OK; WEIR_EINVAL; WEIR_ENOMEM; WEIR_EENGINE; WEIR_ESTOPPED if the
 * callback returned non-zero (the chunk was still consumed whole); WEIR_ELIMIT.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scan_chunk(weir_scanner_t *scanner,
                                                        const weir_id_t *id, const void *data,
                                                        size_t len);

/* One chunk of one stream, for weir_scan_batch. */
typedef struct weir_chunk {
    weir_id_t stream;
    const void *data;
    size_t len;
} weir_chunk_t;

/*
 * Feeds n chunks, in order, exactly as n calls of weir_scan_chunk would (the same events in
 * the same order, the same results), but faster when they belong to many streams: while one
 * chunk is scanned, the contexts of the next ones are already being fetched from memory, so a
 * switch to a stream that is not in the CPU's caches costs less.  A collector that reads
 * several connections at once should hand their chunks over together.  Stops at the first
 * call that does not return WEIR_OK and returns its status (WEIR_ESTOPPED: that chunk was
 * still consumed); *done (may be NULL) receives the number of chunks fed.  WEIR_EINVAL (and
 * nothing fed) when a chunk has data NULL with len > 0.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scan_batch(weir_scanner_t *scanner,
                                                        const weir_chunk_t *chunks, size_t n,
                                                        size_t *done);

/*
 * Feeds one line (without its terminator) to stream id: exactly
 * weir_scan_chunk of the line followed by "\n".  A line must not contain '\n'
 * (WEIR_EINVAL).  Returns as weir_scan_chunk.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scan_line(weir_scanner_t *scanner, const weir_id_t *id,
                                                       const void *line, size_t len);

/*
 * The rules matching stream id now, with the matches found so far, as if the
 * stream ended here; the stream itself is unchanged and stays open.  cb is
 * called once per matching non-private rule, in rule order.
 * Returns WEIR_OK, WEIR_EINVAL, WEIR_ENOTFOUND, WEIR_ENOMEM, WEIR_ESTOPPED.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_results(weir_scanner_t *scanner,
                                                            const weir_id_t *id, weir_result_cb cb,
                                                            void *user);

/*
 * Ends stream id: the data ends here.  Rules still pending fire now (match
 * events with at_close = 1), then cb (may be NULL) receives the final results:
 * exactly what YARA reports for the stream's bytes as one file.  The stream is
 * then forgotten.  Returns as weir_stream_results; the stream is forgotten
 * even when a callback stops the call.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_close(weir_scanner_t *scanner,
                                                          const weir_id_t *id, weir_result_cb cb,
                                                          void *user);

/* Forgets everything about stream id, as if it had never been seen.
 * Returns WEIR_OK, WEIR_EINVAL, WEIR_ENOTFOUND. */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_reset(weir_scanner_t *scanner,
                                                          const weir_id_t *id);

/*
 * What a live stream context holds, by part, in bytes (allocation accounting: what weir asked
 * the allocator for, without the allocator's own overhead).
 */
typedef struct weir_memory_parts {
    size_t context;    /* the fixed part of the context (and its extras, once it has any)   */
    size_t vectorscan; /* Vectorscan's stream state                                         */
    size_t history;    /* bytes kept for matches that may still complete                    */
    size_t matches;    /* match lists, match data, chained-string candidates                */
    size_t trace_ids;  /* trace ids kept for matches                                        */
    size_t other;      /* the partial line (trace ids), pending matches, rule states,
                          variables, integer-read bytes                                     */
} weir_memory_parts_t;

/* Per-stream statistics. */
typedef struct weir_stream_stats {
    uint64_t bytes;          /* bytes received                               */
    uint64_t lines;          /* complete lines received                      */
    uint64_t string_matches; /* string matches found so far (0 while evicted) */
    uint64_t rules_fired;    /* match events delivered (0 while evicted)     */
    size_t memory;           /* bytes of memory held: the context, or the snapshot of an
                                evicted stream (0 when it is in the spill store) */
    int evicted;             /* 1: held as a snapshot until its next use     */
    weir_memory_parts_t mem; /* a live stream's memory by part (zero while evicted) */
} weir_stream_stats_t;

/* Returns WEIR_OK, WEIR_EINVAL, WEIR_ENOTFOUND, or (reading a spilled stream's snapshot)
   WEIR_EIO or WEIR_ENOMEM.  Does not restore an evicted stream. */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_stats(const weir_scanner_t *scanner,
                                                          const weir_id_t *id,
                                                          weir_stream_stats_t *out);

/* Number of open streams. */
WEIR_API size_t weir_scanner_stream_count(const weir_scanner_t *scanner);

/*
 * Lists open streams: copies up to cap ids into ids (which may be NULL when
 * cap is 0) and sets *n to the number of open streams.  Order is unspecified.
 * Returns WEIR_OK or WEIR_EINVAL.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scanner_streams(const weir_scanner_t *scanner,
                                                             weir_id_t *ids, size_t cap, size_t *n);

/*
 * Bytes held by all stream contexts of the scanner: the stream table, live contexts, the
 * snapshots of evicted streams kept in memory and the line buffers kept for streams to borrow,
 * by the library's own allocation accounting.
 * Compiled rules and the scanner's working buffers are not counted.  This is the figure the
 * memory budget (weir_scanner_options_t.memory_limit) bounds.
 */
WEIR_API size_t weir_memory_usage(const weir_scanner_t *scanner);

/* The scanner's memory, in detail. */
typedef struct weir_memory_stats {
    size_t total;         /* weir_memory_usage()                                  */
    size_t limit;         /* the budget; 0 for none                               */
    size_t table;         /* the stream table                                     */
    size_t streams;       /* open streams: live + evicted                         */
    size_t live, evicted; /* how many of each (evicted: to memory or spilled)     */
    size_t live_bytes;    /* held by live contexts: the sum of live_parts         */
    weir_memory_parts_t live_parts;
    size_t evicted_bytes; /* held by the snapshots of streams evicted to memory   */
    size_t spare;         /* line buffers the scanner keeps to lend to streams    */
    size_t spilled;       /* evicted streams whose snapshot is in the spill store */
    size_t spill_file;    /* bytes of the spill store in use, on disk (not in total) */
    uint64_t evictions;   /* streams evicted so far                               */
    uint64_t restores;    /* evicted streams brought back by their next use       */
    uint64_t expired;     /* streams closed by weir_scanner_expire                */
} weir_memory_stats_t;

/* Fills *out; walks the stream table (O(streams in memory)).  WEIR_OK or WEIR_EINVAL. */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_memory_stats(const weir_scanner_t *scanner,
                                                          weir_memory_stats_t *out);

/*
 * The same as text: json != 0 gives one JSON object (keys as the fields above, live_parts
 * as an object), otherwise aligned "name  value" lines for people.  *out is NUL-terminated;
 * free it with free().  WEIR_OK, WEIR_EINVAL or WEIR_ENOMEM.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_memory_stats_format(const weir_scanner_t *scanner,
                                                                 int json, char **out);

/* ------------------------------------------------------------------------ */
/* Streams at scale: eviction, idle expiry, snapshots, checkpoints           */

/*
 * Evicts stream id now: its context becomes a compact snapshot (Vectorscan's compressed
 * state and the serialized context), kept in memory or in the spill store, and restored
 * transparently on its next use with identical results.  The memory budget does this by
 * itself for the least recently used streams; this call is for applications that know a
 * stream went quiet (and for tests).  Evicting an evicted stream does nothing.  Returns
 * WEIR_OK, WEIR_EINVAL, WEIR_ENOTFOUND, WEIR_ENOMEM, WEIR_EENGINE, WEIR_EIO (spill store).
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_evict(weir_scanner_t *scanner,
                                                          const weir_id_t *id);

/*
 * The clock idle expiry uses, in milliseconds (any origin; it must not go backwards).  The
 * default (now == NULL) is CLOCK_MONOTONIC_COARSE.  A stream's last use is stamped with it on
 * every call that feeds or opens the stream.
 */
WEIR_API void weir_scanner_set_clock(weir_scanner_t *scanner, uint64_t (*now)(void *user),
                                     void *user);

/*
 * Closes every stream unused for more than idle_ms milliseconds, exactly as weir_stream_close
 * (pending rules fire with at_close = 1, then cb receives each one's final results; cb may be
 * NULL).  *closed (may be NULL) receives how many were closed.  Call it from time to time,
 * e.g. once a minute: it looks at every stream.  Returns WEIR_OK, WEIR_EINVAL, WEIR_ENOMEM, or
 * the first error of a close (the others are still closed).
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scanner_expire(weir_scanner_t *scanner,
                                                            uint64_t idle_ms, weir_result_cb cb,
                                                            void *user, size_t *closed);

/*
 * A snapshot of stream id, to move it to another scanner (or process, or machine) over the
 * same compiled rules: a header (magic, format version, the fingerprint of the rules, a
 * checksum), the stream id and its context.  *buf is freed by the caller with free().  The
 * stream is unchanged.  Returns WEIR_OK, WEIR_EINVAL, WEIR_ENOTFOUND, WEIR_ENOMEM,
 * WEIR_EENGINE.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_snapshot(weir_scanner_t *scanner,
                                                             const weir_id_t *id, void **buf,
                                                             size_t *len);

/*
 * Opens the stream a snapshot holds, as it was.  Returns WEIR_OK; WEIR_EINVAL; WEIR_EFORMAT
 * for bytes that are not a weir snapshot, truncated or damaged; WEIR_EVERSION for another
 * snapshot format; WEIR_ERULES when the snapshot was taken under other compiled rules
 * (Vectorscan would accept its state and scan garbage); WEIR_ESTATE when the scanner already
 * has a stream with that id; WEIR_ELIMIT when it holds max_streams streams; WEIR_ENOMEM;
 * WEIR_EENGINE.  *id (may be NULL) receives its id.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_stream_restore(weir_scanner_t *scanner,
                                                            const void *buf, size_t len,
                                                            weir_id_t *id);

/*
 * Writes every stream of the scanner (live or evicted) to the checkpoint store at path (an
 * LMDB environment, created as one file when absent), replacing the previous checkpoint in one
 * durable transaction: a crash or kill -9 at any moment, even during the call, leaves the
 * previous complete checkpoint (LMDB also writes path-lock beside it).  Streams are unchanged
 * and stay open.  Returns WEIR_OK, WEIR_EINVAL, WEIR_EIO (the file cannot be created, written or
 * synced, or the disk is full), WEIR_EFORMAT (path holds a damaged store, left as it is),
 * WEIR_ENOMEM, WEIR_EENGINE.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scanner_checkpoint(weir_scanner_t *scanner,
                                                                const char *path);

/*
 * Reopens every stream of the checkpoint at path in a scanner that has no streams yet (they
 * are restored lazily: each stays a snapshot until its next use, so a restart costs little
 * memory).  Streams then continue exactly where the checkpoint left them.  Returns WEIR_OK;
 * WEIR_EINVAL; WEIR_EIO (no such store); WEIR_EFORMAT (damaged: the store is checked before it
 * is read, see docs/hostile.md); WEIR_EVERSION; WEIR_ERULES
 * (the checkpoint belongs to other compiled rules); WEIR_ESTATE (the scanner has streams);
 * WEIR_ELIMIT (more streams than max_streams: none is restored); WEIR_ENOMEM.  *n (may be
 * NULL) receives the number of streams.
 */
WEIR_API WEIR_WARN_UNUSED weir_status_t weir_scanner_restore(weir_scanner_t *scanner,
                                                             const char *path, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* WEIR_H */
