using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;

namespace ApprovalBot.Pipe.Operations;

/// <summary>Answers once the draft is decided (or, with until=final, once its flow has ended), woken by the store's change signal rather than by polling.</summary>
internal sealed class WaitOperation(DraftStore store, TimeProvider time) : IPipeOperation
{
    public const int DefaultTimeoutMs = 30_000;
    public const int MaxTimeoutMs = 600_000;
    private static readonly IntegerRange TimeoutRange = new("timeout_ms", 0, MaxTimeoutMs);

    public string Name => Ops.Wait;

    public async Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var wait = StrictRequest.Read(request, ProtocolJsonContext.Default.WaitRequest, TimeoutRange);
        var timeoutMs = TimeoutRange.ValueOr(wait.TimeoutMs, DefaultTimeoutMs);
        Func<DraftState, bool> done = wait.Until switch
        {
            null or WaitUntil.Decided => static s => !DraftStateMachine.AwaitsDecision(s),
            WaitUntil.Final => static s => DraftStateMachine.AwaitsHuman(s) || DraftStateMachine.IsFinal(s),
            _ => throw new ProtocolException(ErrorCodes.Invalid, "must be 'decided' or 'final'", "until"),
        };
        var deadline = time.GetUtcNow().AddMilliseconds(timeoutMs);
        var draft = store.Get(wait.Id) ?? throw GetOperation.NotFound(wait.Id);
        while (true)
        {
            if (done(draft.State))
            {
                return new Response { Ok = true, Draft = draft.ToView(), Decided = true };
            }
            // Only a draft that still has to move registers for its next change; reading again after registering
            // means a change committed in between is not missed. The registration is let go at every way out
            // (answer, timeout, cancellation), so a wait on a draft that never moves leaves nothing behind.
            using (var registration = store.Signals.NextChange(wait.Id))
            {
                draft = store.Get(wait.Id) ?? throw GetOperation.NotFound(wait.Id);
                if (done(draft.State))
                {
                    return new Response { Ok = true, Draft = draft.ToView(), Decided = true };
                }
                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    return new Response { Ok = true, Draft = draft.ToView(), Decided = false };
                }
                // Watched only when it may outlast a look: an agent that hangs up meanwhile has no use for the answer,
                // and its connection, socket and registration are let go now rather than at its timeout.
                using var hangup = remaining > AgentHangup.CheckEvery ? AgentHangup.WatchCurrent(cancellationToken) : null;
                try
                {
                    await registration.WaitAsync(remaining, time, hangup?.Token ?? cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The loop reads once more and answers with the state at the deadline.
                }
                catch (OperationCanceledException) when (hangup?.HungUp == true && !cancellationToken.IsCancellationRequested)
                {
                    // Nobody reads this: its write fails on the closed socket, and the server closes the connection.
                    return Response.Failure(ErrorCodes.Unavailable, "the agent hung up before the answer; nothing was changed");
                }
            }
            draft = store.Get(wait.Id) ?? throw GetOperation.NotFound(wait.Id);
        }
    }
}
