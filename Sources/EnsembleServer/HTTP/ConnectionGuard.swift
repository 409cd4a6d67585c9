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
/// heads and response parts, never raw bytes. The timeout is one timer per connection that
/// re-arms itself, and each request only stores a time stamp: scheduling and cancelling a timer
/// per request cost ~1% of log-metric throughput in a profile of 32 connections.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let headTimeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// Since when the connection has been waiting for a request head; `nil` while a request is
    /// being read or answered.
    private var waitingSince: NIODeadline?
    private var closeAfterResponse = false
    /// Requests whose head has arrived and whose response has not ended.
    private var inFlight = 0

    init(headTimeout: TimeAmount) {
        self.headTimeout = headTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            inFlight += 1
            waitingSince = nil
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
                if inFlight == 0 { waitingSince = .now() }
            }
        }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        waitingSince = .now()
        arm(context, in: headTimeout)
    }

    private func arm(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.timer = nil
            guard let since = self.waitingSince else {
                // A request is being read or answered: look again one timeout from now.
                self.arm(context, in: self.headTimeout)
                return
            }
            let deadline = since + self.headTimeout
            if deadline <= .now() {
                context.close(promise: nil)
            } else {
                self.arm(context, in: deadline - .now())
            }
        }
    }
}
