using ApprovalBot.Reconciliation;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// The updates that waited at Telegram while the service was down: taken in once a poll since the start has come back
/// with fewer than a full batch, all of it handled (<see cref="UpdatePoller"/> says so). Expiry waits for that, or for
/// <see cref="GiveUpAfter"/> while Telegram cannot be reached: a chat out of reach for longer must not hold every expiry.
/// </summary>
internal sealed class UpdateBacklog(TimeProvider time) : IMissedDecisions
{
    /// <summary>How long after the start expiry waits at most for the backlog.</summary>
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(10);

    private readonly DateTimeOffset _started = time.GetUtcNow();
    private readonly TaskCompletionSource _handled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True once the backlog was handled.</summary>
    public bool CaughtUp => _handled.Task.IsCompleted;

    /// <summary>Completes when the backlog was handled.</summary>
    public Task Handled => _handled.Task;

    public bool TakenIn => CaughtUp || time.GetUtcNow() - _started >= GiveUpAfter;

    public void MarkCaughtUp() => _handled.TrySetResult();
}
