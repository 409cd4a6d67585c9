import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Guards each connection against slow or stuck clients, two things Hummingbird's HTTP/1 channel
/// does not do by itself (checked against 2.28):
///
/// - **Request-head timeout.** A client must finish sending a request's head within
///   `headTimeout` of connecting, or of the previous response. Hummingbird's idle timeout only
///   counts whole HTTP parts, so a client that trickles a header byte at a time (slowloris) kept a
///   connection and its buffers forever; 20 of them were enough to be a nuisance.
/// - **Close after a response marked `Connection: close`.** The server answers an oversized body
///   with 413 without reading it; without closing, Hummingbird would go on draining the rest of the
///   body (gigabytes, for a hostile chunked upload) while the client waits.
///
/// It sits between the HTTP codec and Hummingbird's connection-state handler, so it sees request
/// heads and response parts, never raw bytes.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let headTimeout: TimeAmount
    private var waitingForHead: Scheduled<Void>?
    private var closeAfterResponse = false
    /// Requests whose head has arrived and whose response has not ended.
    private var inFlight = 0

    init(headTimeout: TimeAmount) {
        self.headTimeout = headTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startWaiting(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startWaiting(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopWaiting()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWaiting()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            inFlight += 1
            stopWaiting()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            if response.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            inFlight = max(0, inFlight - 1)
            if closeAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
            } else {
                context.write(data, promise: promise)
                if inFlight == 0 { startWaiting(context) }
            }
        }
    }

    private func startWaiting(_ context: ChannelHandlerContext) {
        stopWaiting()
        waitingForHead = context.eventLoop.assumeIsolated().scheduleTask(in: headTimeout) {
            context.close(promise: nil)
        }
    }

    private func stopWaiting() {
        waitingForHead?.cancel()
        waitingForHead = nil
    }
}
