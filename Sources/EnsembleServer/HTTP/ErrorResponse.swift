import EnsembleCore
import EnsembleJSON
import Hummingbird
import NIOCore

enum JSONResponse {
    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]

    static func ok(_ writer: JSONWriter, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }

    /// `{"<key>": [items…], "next_page_token": "…"}` — the shape of every MLflow listing. The token
    /// is omitted on the last page (the client relies on its absence).
    static func list<Items: Collection>(
        _ key: StaticString, _ items: Items, nextPageToken: String? = nil, bytesPerItem: Int = 128,
        _ write: (inout JSONWriter, Items.Element) -> Void
    ) -> Response {
        var w = JSONWriter(capacity: bytesPerItem * items.count + 64)
        w.beginObject()
        w.key(key)
        w.beginArray()
        for item in items { write(&w, item) }
        w.endArray()
        w.optionalMember("next_page_token", nextPageToken)
        w.endObject()
        return ok(w)
    }

    /// `{"<key>": <value>}` — the shape of every single-entity answer.
    static func wrapped(_ key: StaticString, bytes: Int = 1024, _ write: (inout JSONWriter) -> Void) -> Response {
        var w = JSONWriter(capacity: bytes)
        w.beginObject()
        w.key(key)
        write(&w)
        w.endObject()
        return ok(w)
    }

    static let emptyObject = Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(string: "{}")))

    static func error(_ error: EnsembleError, status: HTTPResponse.Status? = nil) -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.member("error_code", error.code.rawValue)
        w.member("message", error.message)
        w.endObject()
        return Response(status: status ?? error.code.httpStatus, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: w.bytes)))
    }
}
