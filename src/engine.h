/*
 * engine.h - the Vectorscan runtime calls weir makes while scanning, through
 * one table of entry points chosen once per process.
 *
 * Why: Debian's libhs is a "fat runtime" exporting one set of entry points per
 * instruction set (core2_, corei7_, avx2_, avx512_) behind dispatching
 * symbols.  In Vectorscan 5.4.9 the wide-vector sets lose matches: the AVX-512
 * accelerators miss matches at some buffer alignments (upstream
 * VectorCamp/vectorscan PRs #375 and #378), and both the AVX2 and AVX-512
 * sets drop matches of some patterns when a stream arrives in several pieces
 * (tests/test_engine.c holds both reproducers).  Either would make weir's
 * results depend on chunking or on where the caller's buffer sits.  So weir
 * uses the SSE4.2 set (corei7_), core2_ below that, and the dispatching
 * symbols only where the library exports no per-ISA set.
 * WEIR_HS_ISA=auto|dispatch|avx512|avx2|corei7|core2 overrides the choice.
 */
#ifndef WEIR_ENGINE_H
#define WEIR_ENGINE_H

#include <hs.h>

typedef struct weir__engine {
    const char *isa; /* "avx2", ..., or "dispatch" */
    hs_error_t (*open_stream)(const hs_database_t *db, unsigned flags, hs_stream_t **out);
    hs_error_t (*scan_stream)(hs_stream_t *st, const char *data, unsigned len, unsigned flags,
                              hs_scratch_t *scratch, match_event_handler cb, void *ctx);
    hs_error_t (*close_stream)(hs_stream_t *st, hs_scratch_t *scratch, match_event_handler cb,
                               void *ctx);
    hs_error_t (*copy_stream)(hs_stream_t **to, const hs_stream_t *from);
    hs_error_t (*compress_stream)(const hs_stream_t *st, char *buf, size_t space, size_t *used);
    hs_error_t (*reset_stream)(hs_stream_t *st, unsigned flags, hs_scratch_t *scratch,
                               match_event_handler cb, void *ctx);
    hs_error_t (*expand_stream)(const hs_database_t *db, hs_stream_t **out, const char *buf,
                                size_t len);
    /* The platform databases must be compiled for, so that they use only
       engines these entry points have (an AVX2-only literal matcher run by the
       SSE4.2 set would be a call through a null pointer); NULL: the host. */
    const hs_platform_info_t *platform;
    hs_platform_info_t platform_info;
} weir__engine_t;

/* The table, chosen on first use; thread safe. */
const weir__engine_t *weir__engine(void);

#endif /* WEIR_ENGINE_H */
