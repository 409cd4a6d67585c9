#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a path is, without following a symbolic link.
public enum FileKind: Sendable, Equatable {
    case missing, file, directory
    /// Symbolic links, sockets, devices: never followed, served or written through.
    case other

    public static func of(_ path: String) -> FileKind {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }
}

/// Small POSIX helpers shared by the artifact store, the content store and the CLI.
public enum POSIXFile {
    /// Writes every byte, retrying short writes and `EINTR`; returns the `errno` text on failure.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += n
        }
        return nil
    }

    /// The size of a regular file or folder entry (not following links), 0 when it cannot be read.
    public static func size(_ path: String) -> Int64 {
        var st = stat()
        return lstat(path, &st) == 0 ? Int64(st.st_size) : 0
    }
}
