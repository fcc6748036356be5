/* Run aigym_shm_validate over files (corrupted chunk images); print "<status> <bad_entry>"
 * per file, bad_entry -1 when none. Used to prove the C and Python validators agree. */
#include "aigym_shm_wait.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int i;
    for (i = 1; i < argc; ++i) {
        FILE *f = fopen(argv[i], "rb");
        long size;
        void *buf;
        uint32_t bad = 0;
        aigym_shm_status st;
        if (!f) { perror(argv[i]); return 2; }
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        /* exactly `size` bytes, so an overread trips AddressSanitizer */
        buf = malloc(size > 0 ? (size_t)size : 1u);
        if (!buf || (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size)) { fclose(f); return 2; }
        fclose(f);
        st = aigym_shm_validate(buf, (uint64_t)size, AIGYM_SHM_SEM_SIZE, &bad);
        printf("%d %lld\n", (int)st, bad == UINT32_MAX ? -1LL : (long long)bad);
        free(buf);
    }
    return 0;
}
