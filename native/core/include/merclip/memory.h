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

}  // namespace merclip
