/*
 * aigym_shm_validate.h -- validation of a chunk's header and directory, and lookup by name
 * (part of the chunk layout's definition; included at the end of aigym_shm_layout.h).
 * Python's shm/validate.py runs the same checks in the same order (tests/shm/test_fuzz.py).
 */
#ifndef AIGYM_SHM_VALIDATE_H
#define AIGYM_SHM_VALIDATE_H

#include "aigym_shm_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- validation ------------------------------------------------------------------
 * Checks run in the order documented in docs/PROTOCOL.md ("Validation"); the first
 * failure is returned and Python's validator returns the same status for the same bytes.
 * `mapped_size` is the size of the readable mapping at `base` (the file size).
 * `expected_sem_size` is AIGYM_SHM_SEM_SIZE (the caller's semaphore format), or 0 to skip it.
 * On an entry error, *bad_entry (if not NULL) receives the entry index; else UINT32_MAX.
 *
 * Another process may write the chunk while we read it, so every field is read ONCE: the
 * header and each entry are copied out first and only the copies are checked and used (a
 * value checked in the chunk and read again for its use could have changed in between). */

/* The per-entry checks of validation step 12 on an entry's copy `e`, but the ordering ones:
 * kind, dtype and size for a chunk of `total_size` bytes. */
static inline aigym_shm_status aigym_shm_entry_shape_status(const aigym_shm_entry *e, uint64_t total_size) {
    uint32_t itemsize;
    if (e->kind == AIGYM_SHM_KIND_TENSOR) {
        itemsize = aigym_shm_dtype_size(e->dtype);
        if (itemsize == 0u) return AIGYM_SHM_ERR_BAD_ENTRY_DTYPE;
        if (e->count < 1u || e->count > total_size / itemsize || e->nbytes != e->count * itemsize)
            return AIGYM_SHM_ERR_BAD_ENTRY_SIZE;
    } else if (e->kind == AIGYM_SHM_KIND_SEMAPHORE) {
        if (e->dtype != AIGYM_SHM_DTYPE_NONE) return AIGYM_SHM_ERR_BAD_ENTRY_DTYPE;
        if (e->count != 1u || e->nbytes != AIGYM_SHM_SEM_SLOT_SIZE) return AIGYM_SHM_ERR_BAD_ENTRY_SIZE;
    } else {
        return AIGYM_SHM_ERR_BAD_ENTRY_KIND;
    }
    return AIGYM_SHM_OK;
}

static inline aigym_shm_status aigym_shm_validate(const void *base, uint64_t mapped_size,
                                                  uint32_t expected_sem_size, uint32_t *bad_entry) {
    aigym_shm_header h;
    aigym_shm_entry e;
    aigym_shm_status st;
    uint64_t data_end, prev_end;
    uint32_t count, i, j;
    if (bad_entry) *bad_entry = UINT32_MAX;
    if (base == NULL || mapped_size < AIGYM_SHM_HEADER_SIZE) return AIGYM_SHM_ERR_TOO_SMALL;
    /* entry_count first (acquire: the entries it publishes are visible), then one copy */
    count = aigym_shm_load_entry_count((const aigym_shm_header *)base);
    memcpy(&h, base, sizeof h);
    if (memcmp(h.magic, AIGYM_SHM_MAGIC, AIGYM_SHM_MAGIC_SIZE) != 0) return AIGYM_SHM_ERR_BAD_MAGIC;
    if (h.layout_version != AIGYM_SHM_LAYOUT_VERSION) return AIGYM_SHM_ERR_BAD_VERSION;
    if (h.header_size != AIGYM_SHM_HEADER_SIZE || h.entry_size != AIGYM_SHM_ENTRY_SIZE)
        return AIGYM_SHM_ERR_BAD_HEADER_SIZE;
    if (h.total_size != mapped_size) return AIGYM_SHM_ERR_BAD_TOTAL_SIZE;
    if (h.capacity < 1u || h.capacity > AIGYM_SHM_MAX_CAPACITY) return AIGYM_SHM_ERR_BAD_CAPACITY;
    if (h.data_offset != aigym_shm_data_offset_for(h.capacity) || h.data_offset > h.total_size)
        return AIGYM_SHM_ERR_BAD_DATA_OFFSET;
    if (count > h.capacity) return AIGYM_SHM_ERR_BAD_ENTRY_COUNT;
    if (h.data_used > h.total_size - h.data_offset) return AIGYM_SHM_ERR_BAD_DATA_USED;
    if (h.sem_size < 1u || h.sem_size > AIGYM_SHM_SEM_SLOT_SIZE ||
        (expected_sem_size != 0u && h.sem_size != expected_sem_size))
        return AIGYM_SHM_ERR_BAD_SEM_SIZE;

    data_end = h.data_offset + h.data_used;
    prev_end = h.data_offset;
    for (i = 0; i < count; ++i) {
        memcpy(&e, aigym_shm_entry_at(base, i), sizeof e);
        if (bad_entry) *bad_entry = i;
        if (!aigym_shm_ident_valid(e.name, AIGYM_SHM_NAME_MAX, AIGYM_SHM_NAME_SIZE))
            return AIGYM_SHM_ERR_BAD_ENTRY_NAME;
        for (j = 0; j < i; ++j) {
            if (strncmp(aigym_shm_entry_at(base, j)->name, e.name, AIGYM_SHM_NAME_SIZE) == 0)
                return AIGYM_SHM_ERR_DUPLICATE_NAME;
        }
        st = aigym_shm_entry_shape_status(&e, h.total_size);
        if (st != AIGYM_SHM_OK) return st;
        /* entries are laid out in directory order by the bump allocator: no overlap */
        if (e.offset % AIGYM_SHM_ALIGN != 0u || e.offset < prev_end || e.offset > data_end ||
            e.nbytes > data_end - e.offset)
            return AIGYM_SHM_ERR_BAD_ENTRY_OFFSET;
        prev_end = e.offset + e.nbytes;
    }
    if (bad_entry) *bad_entry = UINT32_MAX;
    return AIGYM_SHM_OK;
}

/* An entry's copy on its own, for its use: a valid name, kind, dtype and size, and its data
 * inside [data start, mapped_size) of a chunk whose directory had `capacity` slots at attach
 * (the mapping's size and the capacity are the attacher's, fixed; never re-read). */
static inline aigym_shm_status aigym_shm_entry_copy_status(const aigym_shm_entry *e, uint64_t mapped_size,
                                                           uint32_t capacity) {
    aigym_shm_status st;
    if (!aigym_shm_ident_valid(e->name, AIGYM_SHM_NAME_MAX, AIGYM_SHM_NAME_SIZE)) return AIGYM_SHM_ERR_BAD_ENTRY_NAME;
    st = aigym_shm_entry_shape_status(e, mapped_size);
    if (st != AIGYM_SHM_OK) return st;
    if (e->offset % AIGYM_SHM_ALIGN != 0u || e->offset < aigym_shm_data_offset_for(capacity) ||
        e->offset > mapped_size || e->nbytes > mapped_size - e->offset)
        return AIGYM_SHM_ERR_BAD_ENTRY_OFFSET;
    return AIGYM_SHM_OK;
}

/* ---- lookup ------------------------------------------------------------------------
 * Find entry `name` and copy it into *out. The chunk is re-validated first (cheap:
 * setup-time call, capacity is small), so an entry the host appended after attach is only
 * returned once it is complete and consistent; a validation failure is returned as is. The
 * found entry is then copied once and the copy checked again on its own
 * (aigym_shm_entry_copy_status against `mapped_size` and the `capacity` fixed at attach):
 * the caller uses only *out, so a writer changing the chunk meanwhile cannot make it read
 * or write outside the mapping. kind = 0 accepts any kind, dtype = 0 any dtype. Returns OK,
 * a validation error, INVALID_NAME, UNKNOWN_NAME or WRONG_KIND; on WRONG_KIND *out holds
 * the stored entry so the caller can say what it is (aigym_shm_type_name(kind, dtype)). */
static inline aigym_shm_status aigym_shm_find(const void *base, uint64_t mapped_size, uint32_t capacity,
                                              const char *name, uint32_t kind, uint32_t dtype, aigym_shm_entry *out) {
    uint32_t count, i;
    aigym_shm_status st;
    aigym_shm_entry e;
    if (out) memset(out, 0, sizeof *out);
    if (!aigym_shm_name_valid(name)) return AIGYM_SHM_ERR_INVALID_NAME;
    if (capacity < 1u || capacity > AIGYM_SHM_MAX_CAPACITY || mapped_size < aigym_shm_data_offset_for(capacity))
        return AIGYM_SHM_ERR_BAD_CAPACITY;
    /* read the count before validating: validation then covers every entry we search */
    count = aigym_shm_load_entry_count((const aigym_shm_header *)base);
    st = aigym_shm_validate(base, mapped_size, 0u, NULL);
    if (st != AIGYM_SHM_OK) return st;
    if (count > capacity) return AIGYM_SHM_ERR_BAD_ENTRY_COUNT; /* the directory we mapped ends there */
    for (i = 0; i < count; ++i) {
        memcpy(&e, aigym_shm_entry_at(base, i), sizeof e);
        if (strncmp(e.name, name, AIGYM_SHM_NAME_SIZE) != 0) continue;
        st = aigym_shm_entry_copy_status(&e, mapped_size, capacity);
        if (st != AIGYM_SHM_OK) return st;
        if (out) *out = e;
        if ((kind != 0u && e.kind != kind) || (dtype != 0u && e.dtype != dtype)) return AIGYM_SHM_ERR_WRONG_KIND;
        return AIGYM_SHM_OK;
    }
    return AIGYM_SHM_ERR_UNKNOWN_NAME;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGYM_SHM_VALIDATE_H */
