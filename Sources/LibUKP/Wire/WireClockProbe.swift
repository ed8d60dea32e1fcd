import Synchronization

/// `Hello` round trips that measure the host's clock (this project's wire extension): each
/// `Hello` waits for the `Renewal` with its correlation id, and of several round trips the
/// shortest wins; its reading is the host's clock plus half the round trip (Cristian's
/// method, as NTP keeps the best of several samples).
final class WireClockProbe: Sendable {
    /// The platform's answer to one `Hello`, and when the round trip started and ended.
    struct Answer: Sendable {
        let renewal: WireRenewal
        let sent: ContinuousClock.Instant
        let received: ContinuousClock.Instant
    }

    private typealias Reply = CheckedContinuation<Answer?, Never>

    /// `Hello`s waiting for their `Renewal`, by correlation id, with when each was sent.
    private let waiting = Mutex<[UInt32: (reply: Reply, sent: ContinuousClock.Instant)]>([:])

    /// True while a `Hello` with correlation id `id` waits for its answer.
    func isWaiting(_ id: UInt32) -> Bool { waiting.withLock { $0[id] != nil } }

    /// `rounds` round trips through `roundTrip`; the renewal of the shortest, its clock's
    /// transit half of that round trip. Nil when none was answered.
    func measure(rounds: Int, _ roundTrip: () async -> Answer?) async -> (renewal: PlatformRenewal, roundTrip: Duration)? {
        var best: (renewal: PlatformRenewal, roundTrip: Duration)?
        for _ in 0..<rounds {
            guard let answer = await roundTrip() else { continue }
            let duration = answer.received - answer.sent
            if best == nil || duration < best!.roundTrip {
                best = (answer.renewal.renewal(receivedAt: answer.received, transit: duration / 2), duration)
            }
        }
        return best
    }

    /// Sends `Hello` `id` with `send` and waits for its `Renewal`: nil if `send` fails, the
    /// answer takes longer than `timeout`, or `cancelAll()` is called.
    func roundTrip(id: UInt32, timeout: Duration, send: () throws -> Void) async -> Answer? {
        await withCheckedContinuation { (reply: Reply) in
            waiting.withLock { $0[id] = (reply, .now) }
            do {
                try send()
            } catch {
                return answer(id, with: nil)
            }
            Task {
                try? await Task.sleep(for: timeout)
                self.answer(id, with: nil)
            }
        }
    }

    /// The `Renewal` answering `id` arrived at `received` (nil: give up waiting for it).
    func answer(_ id: UInt32, with renewal: WireRenewal?, at received: ContinuousClock.Instant = .now) {
        guard let waiter = waiting.withLock({ $0.removeValue(forKey: id) }) else { return }
        waiter.reply.resume(returning: renewal.map { Answer(renewal: $0, sent: waiter.sent, received: received) })
    }

    /// The stream is lost: every `Hello` still waiting gets no answer.
    func cancelAll() {
        for id in waiting.withLock({ Array($0.keys) }) { answer(id, with: nil) }
    }
}
