using ApprovalBot.Reconciliation;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// The updates that waited at Telegram while the service was down: taken in once a poll since the start has come back
/// with fewer than a full batch, all of it handled (<see cref="UpdatePoller"/> says so). Expiry and escalations wait for
/// that, or for <see cref="GiveUpAfter"/> after the start while the poller cannot fetch them (Telegram out of reach, the
/// token refused, another instance polling, the store failing): that must not hold every expiry for good. The timer
/// runs on the monotonic clock, so a wall-clock jump at boot neither ends nor stretches the wait.
/// </summary>
internal sealed partial class UpdateBacklog : IMissedDecisions, IDisposable
{
    /// <summary>How long after the start expiry waits at most for the backlog.</summary>
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(10);

    private readonly TaskCompletionSource _handled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _takenIn = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _giveUp;
    private readonly ILogger<UpdateBacklog> _logger;

    public UpdateBacklog(TimeProvider time, ILogger<UpdateBacklog> logger)
    {
        _logger = logger;
        _giveUp = time.CreateTimer(_ => GiveUp(), null, GiveUpAfter, Timeout.InfiniteTimeSpan);
    }

    /// <summary>True once the backlog was handled.</summary>
    public bool CaughtUp => _handled.Task.IsCompleted;

    /// <summary>Completes when the backlog was handled.</summary>
    public Task Handled => _handled.Task;

    public bool TakenIn => _takenIn.Task.IsCompleted;

    public Task WhenTakenIn => _takenIn.Task;

    public void MarkCaughtUp()
    {
        _handled.TrySetResult();
        _takenIn.TrySetResult();
        _giveUp.Dispose();
    }

    private void GiveUp()
    {
        if (_takenIn.TrySetResult())
        {
            LogGaveUp(GiveUpAfter.TotalMinutes);
        }
    }

    public void Dispose() => _giveUp.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The updates that waited at Telegram while the service was down are still not fetched after {Minutes} minutes (the poller's log says why); expiry and escalations go ahead without them, and a tap fetched later on an expired draft is answered that it expired")]
    private partial void LogGaveUp(double minutes);
}
