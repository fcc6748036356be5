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
 * On an entry error, *bad_entry (if not NULL) receives the entry index; else UINT32_MAX. */
static inline aigym_shm_status aigym_shm_validate(const void *base, uint64_t mapped_size,
                                                  uint32_t expected_sem_size, uint32_t *bad_entry) {
    const aigym_shm_header *h = (const aigym_shm_header *)base;
    uint64_t data_end, prev_end;
    uint32_t count, i, j;
    if (bad_entry) *bad_entry = UINT32_MAX;
    if (base == NULL || mapped_size < AIGYM_SHM_HEADER_SIZE) return AIGYM_SHM_ERR_TOO_SMALL;
    if (memcmp(h->magic, AIGYM_SHM_MAGIC, AIGYM_SHM_MAGIC_SIZE) != 0) return AIGYM_SHM_ERR_BAD_MAGIC;
    if (h->layout_version != AIGYM_SHM_LAYOUT_VERSION) return AIGYM_SHM_ERR_BAD_VERSION;
    if (h->header_size != AIGYM_SHM_HEADER_SIZE || h->entry_size != AIGYM_SHM_ENTRY_SIZE)
        return AIGYM_SHM_ERR_BAD_HEADER_SIZE;
    if (h->total_size != mapped_size) return AIGYM_SHM_ERR_BAD_TOTAL_SIZE;
    if (h->capacity < 1u || h->capacity > AIGYM_SHM_MAX_CAPACITY) return AIGYM_SHM_ERR_BAD_CAPACITY;
    if (h->data_offset != aigym_shm_data_offset_for(h->capacity) || h->data_offset > h->total_size)
        return AIGYM_SHM_ERR_BAD_DATA_OFFSET;
    count = aigym_shm_load_entry_count(h);
    if (count > h->capacity) return AIGYM_SHM_ERR_BAD_ENTRY_COUNT;
    if (h->data_used > h->total_size - h->data_offset) return AIGYM_SHM_ERR_BAD_DATA_USED;
    if (h->sem_size < 1u || h->sem_size > AIGYM_SHM_SEM_SLOT_SIZE ||
        (expected_sem_size != 0u && h->sem_size != expected_sem_size))
        return AIGYM_SHM_ERR_BAD_SEM_SIZE;

    data_end = h->data_offset + h->data_used;
    prev_end = h->data_offset;
    for (i = 0; i < count; ++i) {
        const aigym_shm_entry *e = aigym_shm_entry_at(base, i);
        uint32_t itemsize;
        if (bad_entry) *bad_entry = i;
        if (!aigym_shm_ident_valid(e->name, AIGYM_SHM_NAME_MAX, AIGYM_SHM_NAME_SIZE))
            return AIGYM_SHM_ERR_BAD_ENTRY_NAME;
        for (j = 0; j < i; ++j) {
            if (strncmp(aigym_shm_entry_at(base, j)->name, e->name, AIGYM_SHM_NAME_SIZE) == 0)
                return AIGYM_SHM_ERR_DUPLICATE_NAME;
        }
        if (e->kind == AIGYM_SHM_KIND_TENSOR) {
            itemsize = aigym_shm_dtype_size(e->dtype);
            if (itemsize == 0u) return AIGYM_SHM_ERR_BAD_ENTRY_DTYPE;
            if (e->count < 1u || e->count > h->total_size / itemsize || e->nbytes != e->count * itemsize)
                return AIGYM_SHM_ERR_BAD_ENTRY_SIZE;
        } else if (e->kind == AIGYM_SHM_KIND_SEMAPHORE) {
            if (e->dtype != AIGYM_SHM_DTYPE_NONE) return AIGYM_SHM_ERR_BAD_ENTRY_DTYPE;
            if (e->count != 1u || e->nbytes != AIGYM_SHM_SEM_SLOT_SIZE) return AIGYM_SHM_ERR_BAD_ENTRY_SIZE;
        } else {
            return AIGYM_SHM_ERR_BAD_ENTRY_KIND;
        }
        /* entries are laid out in directory order by the bump allocator: no overlap */
        if (e->offset % AIGYM_SHM_ALIGN != 0u || e->offset < prev_end || e->offset > data_end ||
            e->nbytes > data_end - e->offset)
            return AIGYM_SHM_ERR_BAD_ENTRY_OFFSET;
        prev_end = e->offset + e->nbytes;
    }
    if (bad_entry) *bad_entry = UINT32_MAX;
    return AIGYM_SHM_OK;
}

/* ---- lookup ------------------------------------------------------------------------
 * Find entry `name`. The chunk is re-validated first (cheap: setup-time call, capacity is
 * small), so an entry the host appended after attach is only returned once it is complete
 * and consistent; a validation failure is returned as is. kind = 0 accepts any kind,
 * dtype = 0 any dtype. Returns OK (and *out), a validation error, INVALID_NAME,
 * UNKNOWN_NAME or WRONG_KIND; on WRONG_KIND *out points at the stored entry so the caller
 * can say what it is (aigym_shm_type_name(e->kind, e->dtype)). */
static inline aigym_shm_status aigym_shm_find(const void *base, uint64_t mapped_size, const char *name,
                                              uint32_t kind, uint32_t dtype, const aigym_shm_entry **out) {
    const aigym_shm_header *h = (const aigym_shm_header *)base;
    uint32_t count, i;
    aigym_shm_status st;
    if (out) *out = NULL;
    if (!aigym_shm_name_valid(name)) return AIGYM_SHM_ERR_INVALID_NAME;
    /* read the count before validating: validation then covers every entry we search */
    count = aigym_shm_load_entry_count(h);
    st = aigym_shm_validate(base, mapped_size, 0u, NULL);
    if (st != AIGYM_SHM_OK) return st;
    for (i = 0; i < count; ++i) {
        const aigym_shm_entry *e = aigym_shm_entry_at(base, i);
        if (strncmp(e->name, name, AIGYM_SHM_NAME_SIZE) != 0) continue;
        if (out) *out = e;
        if ((kind != 0u && e->kind != kind) || (dtype != 0u && e->dtype != dtype))
            return AIGYM_SHM_ERR_WRONG_KIND;
        return AIGYM_SHM_OK;
    }
    return AIGYM_SHM_ERR_UNKNOWN_NAME;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGYM_SHM_VALIDATE_H */
