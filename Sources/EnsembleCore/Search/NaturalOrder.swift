/// "Human" order for names: runs of digits compare by their value, so `block.2` comes before
/// `block.10` and `gpu_2` before `gpu_10`; everything else compares by Unicode scalars, then by length.
public enum NaturalOrder {
    public static func less(_ a: String, _ b: String) -> Bool {
        var i = a.unicodeScalars.makeIterator(), j = b.unicodeScalars.makeIterator()
        var x = i.next(), y = j.next()
        func isDigit(_ s: Unicode.Scalar?) -> Bool { s.map { $0.value >= 48 && $0.value <= 57 } ?? false }
        while let cx = x, let cy = y {
            if isDigit(cx), isDigit(cy) {
                // Compare the two digit runs by value: skip leading zeros, then length, then digits.
                var dx: [UInt32] = [], dy: [UInt32] = []
                while isDigit(x) { dx.append(x!.value - 48); x = i.next() }
                while isDigit(y) { dy.append(y!.value - 48); y = j.next() }
                let nx = Array(dx.drop { $0 == 0 }), ny = Array(dy.drop { $0 == 0 })
                if nx.count != ny.count { return nx.count < ny.count }
                if nx != ny { return nx.lexicographicallyPrecedes(ny) }
                if dx.count != dy.count { return dx.count < dy.count }  // "01" after "1"
                continue
            }
            if cx != cy { return cx.value < cy.value }
            x = i.next()
            y = j.next()
        }
        return x == nil && y != nil
    }
}
