import Testing

@testable import EnsembleServer

@Suite("Large allocations")
struct LargeAllocationsTests {
    @Test("the server fixes glibc's mmap threshold, so a freed multi-MiB buffer goes back to the system (the effect: the 200 MB streaming test)")
    func threshold() {
        #expect(LargeAllocations.returnToSystemWhenFreed(), "mallopt was not found or refused the setting")
    }
}
