/* Print every constant, offsetof and sizeof of aigym_shm_layout.h as JSON, so the Python
 * mirror can be compared byte for byte (tests/shm/test_layout_c_python.py). */
#include "aigym_shm_wait.h"

#include <stdio.h>

#define FIELD(type, field) \
    printf("%s\"%s\": [%zu, %zu]", first ? "" : ", ", #field, offsetof(type, field), sizeof(((type *)0)->field)); \
    first = 0

static void json_string(const char *s) {
    putchar('"');
    for (; *s; ++s) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

int main(void) {
    int first = 1;
    int s;
    printf("{\"constants\": {");
    printf("\"MAGIC\": \"%s\", \"MAGIC_SIZE\": %u, \"LAYOUT_VERSION\": %u, \"HEADER_SIZE\": %u, ",
           AIGYM_SHM_MAGIC, AIGYM_SHM_MAGIC_SIZE, AIGYM_SHM_LAYOUT_VERSION, AIGYM_SHM_HEADER_SIZE);
    printf("\"ENTRY_SIZE\": %u, \"DIR_OFFSET\": %u, \"ALIGN\": %u, \"NAME_SIZE\": %u, \"NAME_MAX\": %u, ",
           AIGYM_SHM_ENTRY_SIZE, AIGYM_SHM_DIR_OFFSET, AIGYM_SHM_ALIGN, AIGYM_SHM_NAME_SIZE, AIGYM_SHM_NAME_MAX);
    printf("\"ENGINE_RECORD_SIZE\": %u, \"ENGINE_TEXT_SIZE\": %u, ", AIGYM_SHM_ENGINE_RECORD_SIZE,
           AIGYM_SHM_ENGINE_TEXT_SIZE);
    printf("\"HANDLE_MAX\": %u, \"MAX_CAPACITY\": %u, \"SEM_SLOT_SIZE\": %u, \"SEM_SIZE\": %zu, ",
           AIGYM_SHM_HANDLE_MAX, AIGYM_SHM_MAX_CAPACITY, AIGYM_SHM_SEM_SLOT_SIZE, sizeof(aigym_sem));
    printf("\"SEM_MAGIC\": %u, \"SEM_VALUE_MAX\": %u, \"SEM_WAITERS_MAX\": %u, ",
           AIGYM_SEM_MAGIC, AIGYM_SEM_VALUE_MAX, AIGYM_SEM_WAITERS_MAX);
    printf("\"KIND_TENSOR\": %u, \"KIND_SEMAPHORE\": %u, ", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_KIND_SEMAPHORE);
    printf("\"DTYPE_NONE\": %u, \"DTYPE_INT32\": %u, \"DTYPE_FLOAT32\": %u, \"DTYPE_UINT8\": %u, ",
           AIGYM_SHM_DTYPE_NONE, AIGYM_SHM_DTYPE_INT32, AIGYM_SHM_DTYPE_FLOAT32, AIGYM_SHM_DTYPE_UINT8);
    printf("\"STATUS_COUNT\": %d, \"sizeof_header\": %zu, \"sizeof_entry\": %zu, \"alignof_header\": %zu, "
           "\"alignof_entry\": %zu},\n",
           (int)AIGYM_SHM_STATUS_COUNT, sizeof(aigym_shm_header), sizeof(aigym_shm_entry),
           _Alignof(aigym_shm_header), _Alignof(aigym_shm_entry));

    printf("\"header\": {");
    FIELD(aigym_shm_header, magic); FIELD(aigym_shm_header, layout_version); FIELD(aigym_shm_header, header_size);
    FIELD(aigym_shm_header, total_size); FIELD(aigym_shm_header, entry_size); FIELD(aigym_shm_header, capacity);
    FIELD(aigym_shm_header, entry_count); FIELD(aigym_shm_header, sem_size); FIELD(aigym_shm_header, data_offset);
    FIELD(aigym_shm_header, data_used); FIELD(aigym_shm_header, host_pid); FIELD(aigym_shm_header, engine_pid);
    FIELD(aigym_shm_header, host_start_time); FIELD(aigym_shm_header, shutdown); FIELD(aigym_shm_header, reserved0);
    FIELD(aigym_shm_header, engine_start_time); FIELD(aigym_shm_header, reserved);
    printf("},\n\"entry\": {");
    first = 1;
    FIELD(aigym_shm_entry, name); FIELD(aigym_shm_entry, kind); FIELD(aigym_shm_entry, dtype);
    FIELD(aigym_shm_entry, count); FIELD(aigym_shm_entry, offset); FIELD(aigym_shm_entry, nbytes);
    FIELD(aigym_shm_entry, reserved);
    printf("},\n\"sem\": {");
    first = 1;
    FIELD(aigym_sem, value); FIELD(aigym_sem, waiters); FIELD(aigym_sem, magic); FIELD(aigym_sem, reserved);
    printf("},\n\"engine_record\": {");
    first = 1;
    FIELD(aigym_shm_engine_record, stuck_sem); FIELD(aigym_shm_engine_record, error_count);
    FIELD(aigym_shm_engine_record, text_size); FIELD(aigym_shm_engine_record, text);
    printf("},\n\"status_messages\": {");
    for (s = 0; s < (int)AIGYM_SHM_STATUS_COUNT; ++s) {
        printf("%s\"%d\": ", s ? ", " : "", s);
        json_string(aigym_shm_status_message((aigym_shm_status)s));
    }
    printf("},\n\"type_names\": {\"1/1\": \"%s\", \"1/2\": \"%s\", \"1/3\": \"%s\", \"2/0\": \"%s\", \"9/9\": \"%s\"},\n",
           aigym_shm_type_name(1, 1), aigym_shm_type_name(1, 2), aigym_shm_type_name(1, 3),
           aigym_shm_type_name(2, 0), aigym_shm_type_name(9, 9));
    printf("\"engine_record_offset_for\": {\"1\": %llu, \"64\": %llu, \"1024\": %llu},\n",
           (unsigned long long)aigym_shm_engine_record_offset_for(1),
           (unsigned long long)aigym_shm_engine_record_offset_for(64),
           (unsigned long long)aigym_shm_engine_record_offset_for(1024));
    printf("\"data_offset_for\": {\"1\": %llu, \"64\": %llu, \"1024\": %llu}}\n",
           (unsigned long long)aigym_shm_data_offset_for(1), (unsigned long long)aigym_shm_data_offset_for(64),
           (unsigned long long)aigym_shm_data_offset_for(1024));
    return 0;
}
