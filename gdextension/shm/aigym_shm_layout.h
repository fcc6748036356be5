/*
 * aigym_shm_layout.h -- the one C definition of the godot-aigym shared-memory chunk.
 *
 * docs/PROTOCOL.md documents every byte; python_host/godot_aigym/shm/layout.py mirrors
 * this file and tests/shm/test_layout_c_python.py proves both agree byte for byte.
 *
 * Pure C11, also valid C++20. Only <stdint.h>/<stddef.h>/<string.h>: no pointers live in
 * the chunk, every field is fixed width and naturally aligned, so the host (Python, system
 * glibc) and the engine (Godot, its own glibc) agree on it without sharing a compiler.
 *
 * Fields written while the other side may be reading (entry_count, engine_pid, shutdown)
 * are read and written with the __atomic builtins through the accessors below.
 */
#ifndef AIGYM_SHM_LAYOUT_H
#define AIGYM_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aigym_shm_status.h"

#ifdef __cplusplus
#define AIGYM_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
extern "C" {
#else
#define AIGYM_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* ---- constants ------------------------------------------------------------------ */

#define AIGYM_SHM_MAGIC "AIGYMSHM" /* 8 bytes, no NUL stored */
#define AIGYM_SHM_MAGIC_SIZE 8u
#define AIGYM_SHM_LAYOUT_VERSION 3u /* 2: our own futex semaphore; 3: the engine record */
#define AIGYM_SHM_HEADER_SIZE 128u
#define AIGYM_SHM_ENTRY_SIZE 128u
#define AIGYM_SHM_DIR_OFFSET 128u /* the directory starts right after the header */
#define AIGYM_SHM_ALIGN 64u       /* every data slot starts on a cache line */
#define AIGYM_SHM_NAME_SIZE 64u   /* name field bytes, including the NUL */
#define AIGYM_SHM_NAME_MAX 63u    /* longest entry name in bytes */
#define AIGYM_SHM_HANDLE_MAX 127u /* longest handle (shm name without '/') */
#define AIGYM_SHM_MAX_CAPACITY 1024u
#define AIGYM_SHM_ENGINE_RECORD_SIZE 1024u /* the engine record, between directory and data */
#define AIGYM_SHM_ENGINE_TEXT_SIZE 1008u   /* its error text field, including the NUL */
#define AIGYM_SHM_SEM_SLOT_SIZE 64u /* bytes reserved per semaphore; an aigym_sem sits at +0 */
#define AIGYM_SHM_SEM_SIZE 16u      /* sizeof(aigym_sem), stored in the header's sem_size */
#define AIGYM_SEM_MAGIC 0x4D534741u /* "AGSM" little-endian: this slot holds an aigym_sem */
#define AIGYM_SEM_VALUE_MAX 0x7FFFFFFFu /* largest count; above it the semaphore is corrupt */
#define AIGYM_SEM_WAITERS_MAX 0x10000u  /* more blocked waiters than this: corrupt */

/* entry kinds */
#define AIGYM_SHM_KIND_TENSOR 1u
#define AIGYM_SHM_KIND_SEMAPHORE 2u

/* tensor dtypes (0 = none, used by semaphores) */
#define AIGYM_SHM_DTYPE_NONE 0u
#define AIGYM_SHM_DTYPE_INT32 1u
#define AIGYM_SHM_DTYPE_FLOAT32 2u
#define AIGYM_SHM_DTYPE_UINT8 3u

/* ---- structures ----------------------------------------------------------------- */

/* Chunk header at offset 0 (128 bytes). */
typedef struct aigym_shm_header {
    char magic[8];            /*   0 "AIGYMSHM"                                       */
    uint32_t layout_version;  /*   8 AIGYM_SHM_LAYOUT_VERSION                         */
    uint32_t header_size;     /*  12 AIGYM_SHM_HEADER_SIZE                            */
    uint64_t total_size;      /*  16 bytes of the whole chunk (== file size)          */
    uint32_t entry_size;      /*  24 AIGYM_SHM_ENTRY_SIZE                             */
    uint32_t capacity;        /*  28 directory slots, 1..AIGYM_SHM_MAX_CAPACITY       */
    uint32_t entry_count;     /*  32 published entries; atomic, written last          */
    uint32_t sem_size;        /*  36 AIGYM_SHM_SEM_SIZE (sizeof(aigym_sem))           */
    uint64_t data_offset;     /*  40 align64(DIR_OFFSET + capacity * ENTRY_SIZE)      */
    uint64_t data_used;       /*  48 bump allocator: bytes used after data_offset     */
    int32_t host_pid;         /*  56 pid of the creating host process                 */
    int32_t engine_pid;       /*  60 atomic; the engine stores its pid on attach      */
    uint64_t host_start_time; /*  64 host start time (clock ticks since boot), 0=?    */
    uint32_t shutdown;        /*  72 atomic; host stores 1 to ask the engine to quit  */
    uint32_t reserved0;       /*  76 zero                                             */
    uint64_t engine_start_time; /* 80 atomic; engine_pid's start time, 0 = unknown    */
    uint8_t reserved[40];     /*  88 zero, up to 128                                  */
} aigym_shm_header;

/* Semaphore (16 bytes at the start of a 64-byte semaphore slot). Every field is checked
 * before use (aigym_shm_sem.h): a slot with garbage is reported as corrupt, never trusted. */
typedef struct aigym_sem {
    uint32_t value;    /*  0 count, 0..AIGYM_SEM_VALUE_MAX; the futex word (atomic)       */
    uint32_t waiters;  /*  4 processes blocked on the futex (atomic); post wakes if != 0 */
    uint32_t magic;    /*  8 AIGYM_SEM_MAGIC                                             */
    uint32_t reserved; /* 12 zero                                                        */
} aigym_sem;

/* Directory entry (128 bytes); entry i lives at DIR_OFFSET + i * ENTRY_SIZE. */
typedef struct aigym_shm_entry {
    char name[64];       /*   0 NUL-terminated, 1..63 bytes of [A-Za-z0-9_.-]   */
    uint32_t kind;       /*  64 AIGYM_SHM_KIND_*                                */
    uint32_t dtype;      /*  68 AIGYM_SHM_DTYPE_* (NONE for semaphores)         */
    uint64_t count;      /*  72 elements (1 for semaphores)                     */
    uint64_t offset;     /*  80 from the chunk start, multiple of 64            */
    uint64_t nbytes;     /*  88 count * itemsize, or SEM_SLOT_SIZE              */
    uint8_t reserved[32]; /* 96 zero, up to 128                                 */
} aigym_shm_entry;

/* The engine record (1024 bytes at aigym_shm_engine_record_offset_for(capacity), right after
 * the directory; written only by the engine). When the engine blocks for good on a semaphore
 * after logging an error it has not answered (posted) since, it writes the first such error
 * here and then `stuck_sem`; it clears `stuck_sem` before it takes the semaphore. A host that
 * is itself blocked reads it between wait slices (docs/FAILURE_MODEL.md, "Script errors"). */
typedef struct aigym_shm_engine_record {
    uint64_t stuck_sem;   /*  0 atomic; offset of the semaphore the engine is stuck on, 0 = none */
    uint32_t error_count; /*  8 errors logged since the engine's last post                      */
    uint32_t text_size;   /* 12 bytes in text, < AIGYM_SHM_ENGINE_TEXT_SIZE                      */
    char text[AIGYM_SHM_ENGINE_TEXT_SIZE]; /* 16 the first error: "what (file:line, function)" */
} aigym_shm_engine_record;

AIGYM_STATIC_ASSERT(sizeof(aigym_shm_engine_record) == AIGYM_SHM_ENGINE_RECORD_SIZE, "engine record is 1024 bytes");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_engine_record, stuck_sem) == 0, "stuck_sem at 0");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_engine_record, error_count) == 8, "error_count at 8");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_engine_record, text_size) == 12, "text_size at 12");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_engine_record, text) == 16, "text at 16");
AIGYM_STATIC_ASSERT(AIGYM_SHM_ENGINE_RECORD_SIZE % AIGYM_SHM_ALIGN == 0, "data after the record stays aligned");

AIGYM_STATIC_ASSERT(sizeof(aigym_shm_header) == AIGYM_SHM_HEADER_SIZE, "header is 128 bytes");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, magic) == 0, "magic at 0");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, layout_version) == 8, "layout_version at 8");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, header_size) == 12, "header_size at 12");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, total_size) == 16, "total_size at 16");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, entry_size) == 24, "entry_size at 24");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, capacity) == 28, "capacity at 28");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, entry_count) == 32, "entry_count at 32");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, sem_size) == 36, "sem_size at 36");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, data_offset) == 40, "data_offset at 40");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, data_used) == 48, "data_used at 48");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, host_pid) == 56, "host_pid at 56");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, engine_pid) == 60, "engine_pid at 60");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, host_start_time) == 64, "host_start_time at 64");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, shutdown) == 72, "shutdown at 72");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, reserved0) == 76, "reserved0 at 76");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, engine_start_time) == 80, "engine_start_time at 80");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_header, reserved) == 88, "reserved at 88");

AIGYM_STATIC_ASSERT(sizeof(aigym_shm_entry) == AIGYM_SHM_ENTRY_SIZE, "entry is 128 bytes");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, name) == 0, "name at 0");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, kind) == 64, "kind at 64");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, dtype) == 68, "dtype at 68");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, count) == 72, "count at 72");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, offset) == 80, "offset at 80");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, nbytes) == 88, "nbytes at 88");
AIGYM_STATIC_ASSERT(offsetof(aigym_shm_entry, reserved) == 96, "reserved at 96");
AIGYM_STATIC_ASSERT(sizeof(((aigym_shm_entry *)0)->name) == AIGYM_SHM_NAME_SIZE, "name is 64 bytes");
AIGYM_STATIC_ASSERT(AIGYM_SHM_DIR_OFFSET == AIGYM_SHM_HEADER_SIZE, "directory follows header");
AIGYM_STATIC_ASSERT(AIGYM_SHM_DIR_OFFSET % AIGYM_SHM_ALIGN == 0, "directory is aligned");
AIGYM_STATIC_ASSERT(AIGYM_SHM_ENTRY_SIZE % 8 == 0, "entries keep 8-byte alignment");
AIGYM_STATIC_ASSERT(AIGYM_SHM_SEM_SLOT_SIZE % AIGYM_SHM_ALIGN == 0, "semaphore slot is aligned");
AIGYM_STATIC_ASSERT(sizeof(aigym_sem) == AIGYM_SHM_SEM_SIZE, "aigym_sem is 16 bytes");
AIGYM_STATIC_ASSERT(offsetof(aigym_sem, value) == 0 && offsetof(aigym_sem, waiters) == 4 &&
                        offsetof(aigym_sem, magic) == 8 && offsetof(aigym_sem, reserved) == 12,
                    "aigym_sem field offsets");
AIGYM_STATIC_ASSERT(AIGYM_SHM_SEM_SIZE <= AIGYM_SHM_SEM_SLOT_SIZE, "aigym_sem fits a semaphore slot");
AIGYM_STATIC_ASSERT(sizeof(int32_t) == 4 && sizeof(float) == 4 && sizeof(uint8_t) == 1, "dtype sizes");

/* ---- small helpers ---------------------------------------------------------------- */

static inline uint64_t aigym_shm_align_up(uint64_t v) {
    return (v + (AIGYM_SHM_ALIGN - 1u)) & ~(uint64_t)(AIGYM_SHM_ALIGN - 1u);
}

/* Where the engine record starts for a directory of `capacity` slots (right after it). */
static inline uint64_t aigym_shm_engine_record_offset_for(uint32_t capacity) {
    return aigym_shm_align_up((uint64_t)AIGYM_SHM_DIR_OFFSET + (uint64_t)capacity * AIGYM_SHM_ENTRY_SIZE);
}

/* Where data starts for a directory of `capacity` slots (after the engine record). */
static inline uint64_t aigym_shm_data_offset_for(uint32_t capacity) {
    return aigym_shm_engine_record_offset_for(capacity) + AIGYM_SHM_ENGINE_RECORD_SIZE;
}

/* Bytes per element of a dtype, 0 if unknown. */
static inline uint32_t aigym_shm_dtype_size(uint32_t dtype) {
    switch (dtype) {
    case AIGYM_SHM_DTYPE_INT32: return 4u;
    case AIGYM_SHM_DTYPE_FLOAT32: return 4u;
    case AIGYM_SHM_DTYPE_UINT8: return 1u;
    default: return 0u;
    }
}

/* "int32 tensor", "float32 tensor", "uint8 tensor", "semaphore" or "unknown entry". */
static inline const char *aigym_shm_type_name(uint32_t kind, uint32_t dtype) {
    if (kind == AIGYM_SHM_KIND_SEMAPHORE) return "semaphore";
    if (kind == AIGYM_SHM_KIND_TENSOR) {
        switch (dtype) {
        case AIGYM_SHM_DTYPE_INT32: return "int32 tensor";
        case AIGYM_SHM_DTYPE_FLOAT32: return "float32 tensor";
        case AIGYM_SHM_DTYPE_UINT8: return "uint8 tensor";
        default: break;
        }
    }
    return "unknown entry";
}

static inline int aigym_shm_name_char_ok(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* 1 if `s` is 1..max_len bytes of [A-Za-z0-9_.-] followed by a NUL within `field_size`
 * bytes (field_size = 0: no bound beyond max_len + 1). Reads at most max_len + 1 bytes. */
static inline int aigym_shm_ident_valid(const char *s, uint32_t max_len, uint32_t field_size) {
    uint32_t n = 0;
    uint32_t limit = max_len + 1u;
    if (s == NULL) return 0;
    if (field_size != 0u && field_size < limit) limit = field_size;
    while (n < limit && s[n] != '\0') {
        if (!aigym_shm_name_char_ok(s[n])) return 0;
        ++n;
    }
    return n >= 1u && n <= max_len && n < limit;
}

/* Entry names: 1..63 bytes of [A-Za-z0-9_.-]. */
static inline int aigym_shm_name_valid(const char *name) {
    return aigym_shm_ident_valid(name, AIGYM_SHM_NAME_MAX, 0u);
}

/* Handles: 1..127 bytes of [A-Za-z0-9_.-], not starting with '.' (no "." / ".."). */
static inline int aigym_shm_handle_valid(const char *handle) {
    return aigym_shm_ident_valid(handle, AIGYM_SHM_HANDLE_MAX, 0u) && handle[0] != '.';
}

/* ---- atomic accessors for fields shared while both sides run ---------------------- */

static inline uint32_t aigym_shm_load_entry_count(const aigym_shm_header *h) {
    return __atomic_load_n(&h->entry_count, __ATOMIC_ACQUIRE);
}
static inline void aigym_shm_publish_entry_count(aigym_shm_header *h, uint32_t count) {
    __atomic_store_n(&h->entry_count, count, __ATOMIC_RELEASE);
}
static inline int32_t aigym_shm_load_engine_pid(const aigym_shm_header *h) {
    return __atomic_load_n(&h->engine_pid, __ATOMIC_ACQUIRE);
}
static inline void aigym_shm_store_engine_pid(aigym_shm_header *h, int32_t pid) {
    __atomic_store_n(&h->engine_pid, pid, __ATOMIC_RELEASE);
}
/* The start time of the claiming engine (a reused pid is told apart by it); 0 = unknown or a
 * claim in progress. Written after the engine_pid CAS, zeroed before a stale claim is moved. */
static inline uint64_t aigym_shm_load_engine_start(const aigym_shm_header *h) {
    return __atomic_load_n(&h->engine_start_time, __ATOMIC_ACQUIRE);
}
static inline void aigym_shm_store_engine_start(aigym_shm_header *h, uint64_t start) {
    __atomic_store_n(&h->engine_start_time, start, __ATOMIC_RELEASE);
}
/* Claim the chunk for engine `pid`: one compare-and-swap from `expected` (0 = unclaimed, or
 * the dead holder being taken over) to `pid`. Returns 1 on success; else 0 and *holder
 * receives the pid that holds it now. */
static inline int aigym_shm_cas_engine_pid(aigym_shm_header *h, int32_t expected, int32_t pid, int32_t *holder) {
    int32_t seen = expected;
    if (__atomic_compare_exchange_n(&h->engine_pid, &seen, pid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 1;
    if (holder) *holder = seen;
    return 0;
}
static inline uint32_t aigym_shm_load_shutdown(const aigym_shm_header *h) {
    return __atomic_load_n(&h->shutdown, __ATOMIC_ACQUIRE);
}
static inline void aigym_shm_store_shutdown(aigym_shm_header *h, uint32_t value) {
    __atomic_store_n(&h->shutdown, value, __ATOMIC_RELEASE);
}

static inline uint64_t aigym_shm_load_stuck_sem(const aigym_shm_engine_record *r) {
    return __atomic_load_n(&r->stuck_sem, __ATOMIC_SEQ_CST);
}
static inline void aigym_shm_store_stuck_sem(aigym_shm_engine_record *r, uint64_t offset) {
    __atomic_store_n(&r->stuck_sem, offset, __ATOMIC_SEQ_CST);
}

static inline const aigym_shm_entry *aigym_shm_entry_at(const void *base, uint32_t index) {
    return (const aigym_shm_entry *)((const uint8_t *)base + AIGYM_SHM_DIR_OFFSET +
                                     (uint64_t)index * AIGYM_SHM_ENTRY_SIZE);
}

/* Start of an entry's data (tensor elements or the semaphore slot). */
static inline void *aigym_shm_entry_data(void *base, const aigym_shm_entry *e) {
    return (uint8_t *)base + e->offset;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#include "aigym_shm_validate.h"

#endif /* AIGYM_SHM_LAYOUT_H */
