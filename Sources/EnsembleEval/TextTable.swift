/// Rows of cells as aligned text lines (each column as wide as its widest cell, two spaces apart, the
/// last column unpadded), for the reports the CLI prints.
enum TextTable {
    static func lines(_ rows: [[String]], indent: String = "  ") -> [String] {
        guard let first = rows.first else { return [] }
        let widths = first.indices.map { i in rows.map { $0.count > i ? $0[i].count : 0 }.max() ?? 0 }
        return rows.map { row in
            indent + row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined()
        }
    }
}
