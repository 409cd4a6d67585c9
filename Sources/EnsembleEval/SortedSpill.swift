import EnsembleMetrics
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The values of one column, to be read back in ascending order, in bounded memory.
///
/// Values collect in a buffer of at most `capacity`. When it fills, it is sorted and written to a
/// temporary file as one run; reading back merges the runs (one 32 KiB buffer each). A column that
/// fits its buffer never touches the disk. The file holds 8 bytes per value and is removed with the
/// column. Mean and standard deviation are kept on the way in (Welford), since sorting loses nothing
/// else a drift report needs. One thread uses it at a time (its side's reader, then its column's
/// comparison); iterators read with `pread`, which leaves the file offset alone.
final class SortedSpill: @unchecked Sendable {
    let capacity: Int
    let directory: String
    private var buffer: [Double] = []
    private var runs: [(offset: Int64, count: Int)] = []
    private var fd: Int32 = -1
    private var path: String?
    private var written: Int64 = 0
    private(set) var count = 0
    private var mean = 0.0, m2 = 0.0
    private var finished = false

    init(capacity: Int, directory: String = NSTemporaryDirectory()) {
        self.capacity = max(capacity, 1024)
        self.directory = directory
    }

    deinit {
        if fd >= 0 { close(fd) }
        if let path { unlink(path) }
    }

    func append(_ v: Double) throws {
        count += 1
        let delta = v - mean
        mean += delta / Double(count)
        m2 += delta * (v - mean)
        buffer.append(v)
        if buffer.count >= capacity { try spill() }
    }

    /// The values' mean and population standard deviation.
    var moments: (mean: Double, sd: Double) { (mean, count > 0 ? (m2 / Double(count)).squareRoot() : .nan) }

    /// Bytes written to the temporary file so far.
    var spilledBytes: Int64 { written }

    private func spill() throws {
        RadixSort.sort(&buffer)
        if fd < 0 {
            let template = (directory.hasSuffix("/") ? directory : directory + "/") + "ensemble-spill-XXXXXX"
            var name = Array(template.utf8CString)
            fd = mkstemp(&name)
            guard fd >= 0 else { throw InputError(message: "Cannot create a temporary file in \(directory) to sort a large column (\(String(cString: strerror(errno)))). Set TMPDIR to a folder with space.") }
            path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let bytes = buffer.count * 8
        let done = buffer.withUnsafeBytes { raw -> Int in
            var offset = 0
            while offset < bytes {
                let n = pwrite(fd, raw.baseAddress! + offset, bytes - offset, off_t(written) + off_t(offset))
                if n <= 0 { return offset }
                offset += n
            }
            return offset
        }
        guard done == bytes else {
            throw InputError(message: "Cannot write \(bytes) bytes to a temporary file in \(directory) (\(String(cString: strerror(errno)))). Is the disk full? Set TMPDIR to a folder with space.")
        }
        runs.append((written, buffer.count))
        written += Int64(bytes)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Ends appending: the buffer is sorted, or written as the last run when others exist.
    func finish() throws {
        guard !finished else { return }
        finished = true
        if runs.isEmpty {
            RadixSort.sort(&buffer)
        } else {
            if !buffer.isEmpty { try spill() }
            buffer = []
        }
    }

    /// The values in ascending order (after ``finish()``); each call starts from the smallest again.
    func sorted() -> Iterator {
        precondition(finished, "finish() before reading")
        return runs.isEmpty ? Iterator(memory: buffer) : Iterator(fd: fd, runs: runs)
    }

    /// Ascending values: straight from the buffer, or a k-way merge of the runs over a binary heap.
    struct Iterator: IteratorProtocol {
        private let memory: [Double]
        private var index = 0
        private var readers: [RunReader] = []
        /// Heap of reader indices ordered by their current value.
        private var heap: [Int] = []

        init(memory: [Double]) {
            self.memory = memory
        }

        init(fd: Int32, runs: [(offset: Int64, count: Int)]) {
            memory = []
            readers = runs.map { RunReader(fd: fd, offset: $0.offset, count: $0.count) }
            for i in readers.indices where readers[i].advance() { push(i) }
        }

        mutating func next() -> Double? {
            if readers.isEmpty {
                guard index < memory.count else { return nil }
                defer { index += 1 }
                return memory[index]
            }
            guard let top = heap.first else { return nil }
            let value = readers[top].current
            if readers[top].advance() {
                siftDown(0)
            } else {
                let last = heap.removeLast()
                if !heap.isEmpty {
                    heap[0] = last
                    siftDown(0)
                }
            }
            return value
        }

        private mutating func push(_ reader: Int) {
            heap.append(reader)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard readers[heap[i]].current < readers[heap[parent]].current else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        }

        private mutating func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < heap.count && readers[heap[l]].current < readers[heap[smallest]].current { smallest = l }
                if r < heap.count && readers[heap[r]].current < readers[heap[smallest]].current { smallest = r }
                if smallest == i { return }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
    }

    /// One sorted run of the file, read 4,096 values at a time.
    struct RunReader {
        let fd: Int32
        var offset: Int64
        var remaining: Int
        var block: [Double] = []
        var position = 0
        var current = 0.0

        init(fd: Int32, offset: Int64, count: Int) {
            self.fd = fd
            self.offset = offset
            self.remaining = count
        }

        /// Moves to the next value; false at the run's end (or on a read error, which ends it early:
        /// the counts then disagree and the caller reports it).
        mutating func advance() -> Bool {
            if position >= block.count {
                guard remaining > 0 else { return false }
                let n = min(remaining, 4096)
                block = [Double](unsafeUninitializedCapacity: n) { storage, initialized in
                    let got = pread(fd, storage.baseAddress!, n * 8, off_t(offset))
                    initialized = got > 0 ? got / 8 : 0
                }
                guard !block.isEmpty else {
                    remaining = 0
                    return false
                }
                offset += Int64(block.count * 8)
                remaining -= block.count
                position = 0
            }
            current = block[position]
            position += 1
            return true
        }
    }
}
