/*
 * aigym_shm_status.h -- the status codes of attach, validate and find, and their messages
 * (part of the chunk layout's definition; included by aigym_shm_layout.h).
 * Pure C11, also valid C++20. Python mirrors them in shm/layout.py (STATUS_MESSAGES).
 */
#ifndef AIGYM_SHM_STATUS_H
#define AIGYM_SHM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------
 * Shared by attach, validate and find. The numbering and the messages are part of the
 * protocol: Python raises errors with the same text (layout.STATUS_MESSAGES).          */
typedef enum aigym_shm_status {
    AIGYM_SHM_OK = 0,
    AIGYM_SHM_ERR_NO_HANDLE = 1,
    AIGYM_SHM_ERR_BAD_HANDLE = 2,
    AIGYM_SHM_ERR_NOT_FOUND = 3,
    AIGYM_SHM_ERR_OPEN_FAILED = 4,
    AIGYM_SHM_ERR_TOO_SMALL = 5,
    AIGYM_SHM_ERR_BAD_MAGIC = 6,
    AIGYM_SHM_ERR_BAD_VERSION = 7,
    AIGYM_SHM_ERR_BAD_HEADER_SIZE = 8,
    AIGYM_SHM_ERR_BAD_TOTAL_SIZE = 9,
    AIGYM_SHM_ERR_BAD_CAPACITY = 10,
    AIGYM_SHM_ERR_BAD_DATA_OFFSET = 11,
    AIGYM_SHM_ERR_BAD_ENTRY_COUNT = 12,
    AIGYM_SHM_ERR_BAD_DATA_USED = 13,
    AIGYM_SHM_ERR_BAD_SEM_SIZE = 14,
    AIGYM_SHM_ERR_BAD_ENTRY_NAME = 15,
    AIGYM_SHM_ERR_DUPLICATE_NAME = 16,
    AIGYM_SHM_ERR_BAD_ENTRY_KIND = 17,
    AIGYM_SHM_ERR_BAD_ENTRY_DTYPE = 18,
    AIGYM_SHM_ERR_BAD_ENTRY_SIZE = 19,
    AIGYM_SHM_ERR_BAD_ENTRY_OFFSET = 20,
    AIGYM_SHM_ERR_INVALID_NAME = 21,
    AIGYM_SHM_ERR_UNKNOWN_NAME = 22,
    AIGYM_SHM_ERR_WRONG_KIND = 23,
    AIGYM_SHM_ERR_CLAIMED = 24,
    AIGYM_SHM_ERR_NOT_PRIVATE = 25,
    AIGYM_SHM_STATUS_COUNT = 26
} aigym_shm_status;

/* A fixed message per status; callers add the handle / entry name for context. */
static inline const char *aigym_shm_status_message(aigym_shm_status s) {
    switch (s) {
    case AIGYM_SHM_OK: return "ok";
    case AIGYM_SHM_ERR_NO_HANDLE: return "no shared-memory handle given (start the engine with --handle <name>)";
    case AIGYM_SHM_ERR_BAD_HANDLE: return "invalid handle: use 1-127 characters from [A-Za-z0-9_.-], not starting with '.'";
    case AIGYM_SHM_ERR_NOT_FOUND: return "shared-memory chunk not found (is the host running?)";
    case AIGYM_SHM_ERR_OPEN_FAILED: return "could not open or map the shared-memory chunk";
    case AIGYM_SHM_ERR_TOO_SMALL: return "chunk is smaller than its 128-byte header";
    case AIGYM_SHM_ERR_BAD_MAGIC: return "bad magic: not a godot-aigym chunk";
    case AIGYM_SHM_ERR_BAD_VERSION: return "unsupported layout version";
    case AIGYM_SHM_ERR_BAD_HEADER_SIZE: return "corrupt header: header_size or entry_size is not 128";
    case AIGYM_SHM_ERR_BAD_TOTAL_SIZE: return "corrupt header: total_size does not match the mapped size";
    case AIGYM_SHM_ERR_BAD_CAPACITY: return "corrupt header: directory capacity out of range";
    case AIGYM_SHM_ERR_BAD_DATA_OFFSET: return "corrupt header: data_offset does not follow the directory";
    case AIGYM_SHM_ERR_BAD_ENTRY_COUNT: return "corrupt header: entry_count exceeds capacity";
    case AIGYM_SHM_ERR_BAD_DATA_USED: return "corrupt header: data_used exceeds the data area";
    case AIGYM_SHM_ERR_BAD_SEM_SIZE: return "semaphore size mismatch: host and engine use different semaphore formats";
    case AIGYM_SHM_ERR_BAD_ENTRY_NAME: return "corrupt entry: name is not 1-63 bytes of [A-Za-z0-9_.-] with a NUL";
    case AIGYM_SHM_ERR_DUPLICATE_NAME: return "corrupt directory: two entries share a name";
    case AIGYM_SHM_ERR_BAD_ENTRY_KIND: return "corrupt entry: unknown kind";
    case AIGYM_SHM_ERR_BAD_ENTRY_DTYPE: return "corrupt entry: dtype does not fit the kind";
    case AIGYM_SHM_ERR_BAD_ENTRY_SIZE: return "corrupt entry: count and nbytes do not match";
    case AIGYM_SHM_ERR_BAD_ENTRY_OFFSET: return "corrupt entry: data range misaligned, overlapping or outside the used data area";
    case AIGYM_SHM_ERR_INVALID_NAME: return "invalid name: use 1-63 characters from [A-Za-z0-9_.-]";
    case AIGYM_SHM_ERR_UNKNOWN_NAME: return "no entry with that name";
    case AIGYM_SHM_ERR_WRONG_KIND: return "entry has a different kind or dtype than requested";
    case AIGYM_SHM_ERR_CLAIMED: return "chunk already claimed by another engine that is still running";
    case AIGYM_SHM_ERR_NOT_PRIVATE: return "chunk is not private to this user (another owner, or group/other access)";
    default: return "unknown status";
    }
}


#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGYM_SHM_STATUS_H */
