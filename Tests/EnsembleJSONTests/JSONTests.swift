import Testing

@testable import EnsembleJSON

@Suite("JSON")
struct JSONTests {
    @Test("parses every JSON type and keeps integer text exact")
    func parse() throws {
        let v = try JSONParser.parse(Array(#"{"a": [1, -2.5e3, true, false, null], "b": "x\"\u00e9\ud83d\ude00", "big": 9007199254740993}"#.utf8))
        #expect(v["a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(v["b"] == .string("x\"é😀"))
        #expect(v["big"] == .number("9007199254740993"))
    }

    @Test("raw UTF-8 strings are kept; invalid UTF-8 is refused")
    func utf8() throws {
        #expect(try JSONParser.parse(Array("\"caf\u{e9} 😀\"".utf8)) == .string("café 😀"))
        #expect(try JSONParser.parse(Array("\"plain ascii\"".utf8)) == .string("plain ascii"))
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse([0x22, 0x61, 0xC3, 0x22]) }
    }

    @Test("malformed documents are refused with a position", arguments: [
        "", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "01x", "{\"a\":1} x", "\"\u{01}\"", "\"\\ud800\"",
        String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func malformed(text: String) {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test("writer escapes strings and writes special doubles as proto-JSON strings")
    func write() throws {
        var w = JSONWriter()
        w.beginObject()
        w.member("s", "a\"b\\c\n\u{1}")
        w.member("n", double: .nan)
        w.member("i", double: .infinity)
        w.member("m", double: -.infinity)
        w.member("d", double: 0.1)
        w.member("k", Int64(-7))
        w.key("l")
        w.beginArray()
        w.int(1)
        w.bool(true)
        w.endArray()
        w.endObject()
        #expect(w.string == #"{"s":"a\"b\\c\n\u0001","n":"NaN","i":"Infinity","m":"-Infinity","d":0.1,"k":-7,"l":[1,true]}"#)
        // What we write, we read back.
        let back = try JSONParser.parse(w.bytes)
        #expect(back["s"] == .string("a\"b\\c\n\u{1}"))
    }
}
