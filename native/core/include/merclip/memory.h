// merclip/memory.h — handing idle memory back to the operating system.
#pragma once

#include <cstddef>

namespace merclip {

// Tells the kernel that the whole pages inside [data, data + bytes) are not needed now
// (Linux: madvise(MADV_DONTNEED)): they leave the process's resident set at once, the range stays
// mapped and valid, and the next touch of a page maps a fresh zero page. Only pages lying wholly
// inside the range are given back (the partial pages at either end, which may hold an
// allocator's bookkeeping, are left alone), so the caller must own the whole range and not need
// its contents. Returns the bytes given back (0 where the platform has no such call).
size_t release_pages(void* data, size_t bytes);

// Gives the free memory inside the C heap back to the operating system (glibc: malloc_trim(0),
// which also releases the free pages in the middle of every arena, not only at its top). Large
// short-lived buffers raise glibc's mmap threshold, so later large buffers (a model's weights)
// come from the heap and the holes the temporaries leave between them stay resident; this is the
// one call that returns those pages. Returns whether any memory was released (false where the
// platform's allocator has no such call).
bool trim_heap();

// Fixes the size from which the C heap serves an allocation with its own mmap (glibc:
// mallopt(M_MMAP_THRESHOLD)), turning off glibc's dynamic threshold: by default every large
// block freed raises the threshold to its size (up to 32 MiB), after which large buffers come
// from the heap and the holes between them stay resident. For a long-lived service process.
// bytes must be in [4096, 32 MiB]. Returns false where the allocator has no such setting.
bool set_mmap_threshold(size_t bytes);

}  // namespace merclip
