#if canImport(Glibc)
import Glibc
#endif

/// Makes glibc's allocator give buffers of 4 MiB and more back to the system when they are freed,
/// so a server that streams large files keeps a flat memory.
///
/// Why: glibc serves large allocations with their own `mmap` at first, but after the first such
/// buffer is freed it raises that threshold to the buffer's size (up to 32 MiB), and later buffers
/// come from the allocator's per-thread arenas, which keep freed memory for reuse. Streaming an
/// artifact allocates 8 MiB parts on whichever threads run the upload, so a 200 MiB upload held 2 to
/// 5 parts' worth more at its peak (17–50 MiB), by timing, and now and then more than the test's
/// 100 MiB bound (`MALLOC_ARENA_MAX=2` did not change that: 25–41 MiB). Setting the threshold turns
/// the adjustment off: the same upload grows by 18.8–19.3 MiB (the part being filled and the part
/// being sent) and the download by 0–3 MiB more (`test_a_200_mb_upload_streams_through_in_parts`,
/// six runs, three with both cores busy).
///
/// The trim threshold is raised with it (glibc would otherwise keep its 128 KiB default and hand the
/// top of the heap back after every large free). `scripts/bench --only history,artifact`, release
/// builds with and without these settings, two rounds each: 512 MB local download 906–1,030 against
/// 944–1,009 MB/s, server memory at rest 78–81 against 124–125 MB, a 100k-point history paged as the
/// MLflow client reads it 96–105 against 94–105 ms. The cost: that history in one request builds a
/// multi-MiB answer in fresh pages each time, 90–101 against 78–82 ms. A 1 MiB threshold put the
/// 25,000-point pages there too (paged 125–130 against 102–107 ms).
///
/// `mallopt` is looked up by name: Swift's Glibc module does not include `malloc.h`.
enum LargeAllocations {
    /// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` in glibc's `malloc.h`.
    static let trimThreshold: Int32 = -1
    static let mmapThreshold: Int32 = -3

    /// Returns whether the allocator took both settings (false where there is no glibc).
    @discardableResult
    static func returnToSystemWhenFreed() -> Bool {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        return mallopt(mmapThreshold, 4 << 20) == 1 && mallopt(trimThreshold, 64 << 20) == 1
        #else
        return false
        #endif
    }
}
