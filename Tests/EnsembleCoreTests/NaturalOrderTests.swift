import EnsembleCore
import Testing

@Suite struct NaturalOrderTests {
    @Test func numbersInNamesCompareByValue() {
        let names = [
            "model.decoder.block.10.dropout", "model.decoder.block.2.dropout", "model.decoder.block.1.dropout", "system/gpu_10_utilization_percentage",
            "system/gpu_2_utilization_percentage", "lr", "layer01", "layer1", "layer001x", "a", "",
        ]
        let sorted = names.sorted(by: NaturalOrder.less)
        #expect(sorted == [
            "", "a", "layer1", "layer01", "layer001x", "lr", "model.decoder.block.1.dropout", "model.decoder.block.2.dropout",
            "model.decoder.block.10.dropout", "system/gpu_2_utilization_percentage", "system/gpu_10_utilization_percentage",
        ])
        // A strict weak order: irreflexive and asymmetric on these.
        for a in names {
            #expect(!NaturalOrder.less(a, a))
            for b in names where NaturalOrder.less(a, b) { #expect(!NaturalOrder.less(b, a)) }
        }
    }

    @Test func hugeDigitRunsDoNotOverflow() {
        let big = String(repeating: "9", count: 40)
        #expect(NaturalOrder.less("x" + big, "x1" + big))
        #expect(!NaturalOrder.less("x1" + big, "x" + big))
    }
}
