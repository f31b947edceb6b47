using ApprovalBot.Reconciliation;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// The updates that waited at Telegram while the service was down: taken in once a poll since the start has come back
/// with fewer than a full batch, all of it handled (<see cref="UpdatePoller"/> says so). Expiry and escalations wait for
/// that; while the poller cannot fetch them (Telegram out of reach, the token refused, another instance polling, the
/// store failing) that must not hold every expiry for good, so they are given up on once a poll fails after
/// <see cref="GiveUpAfter"/>. Not at that moment: the poller, asleep in a backoff of up to a minute then, is woken to poll
/// once more, so a Telegram back just inside the window is not given up on unasked. <see cref="GiveUpAtTheLatest"/> bounds
/// a poller that neither fetches nor fails (one getUpdates call with its resends can outlast the window). The timers run on
/// the monotonic clock, so a wall-clock jump at boot neither ends nor stretches the wait.
/// <para>
/// While running, it also says up to when every tap is in (<see cref="TapsSeenBefore"/>): polls that go through say
/// "up to now", but once one fails, taps made since the start of the last poll that came back with everything handled may
/// be waiting at Telegram, and stay "up to then" until a poll brings the rest.
/// </para>
/// </summary>
internal sealed partial class UpdateBacklog : IMissedDecisions, IDisposable
{
    /// <summary>How long after the start a failed poll gives the backlog up.</summary>
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(10);

    /// <summary>Given up on this long after the start whatever the poller is doing.</summary>
    public static readonly TimeSpan GiveUpAtTheLatest = TimeSpan.FromMinutes(20);

    private readonly TaskCompletionSource _handled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _takenIn = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _windowEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _windowEnd;
    private readonly ITimer _latest;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly ILogger<UpdateBacklog> _logger;
    private readonly Lock _seenGate = new();
    private DateTimeOffset? _allSeenAt;
    private bool _failing;

    public UpdateBacklog(TimeProvider time, ILogger<UpdateBacklog> logger)
    {
        _time = time;
        _started = time.GetTimestamp();
        _logger = logger;
        _windowEnd = time.CreateTimer(_ => _windowEnded.TrySetResult(), null, GiveUpAfter, Timeout.InfiniteTimeSpan);
        _latest = time.CreateTimer(_ => GiveUp(), null, GiveUpAtTheLatest, Timeout.InfiniteTimeSpan);
    }

    /// <summary>True once the backlog was handled.</summary>
    public bool CaughtUp => _handled.Task.IsCompleted;

    /// <summary>Completes when the backlog was handled.</summary>
    public Task Handled => _handled.Task;

    public bool TakenIn => _takenIn.Task.IsCompleted;

    public Task WhenTakenIn => _takenIn.Task;

    /// <summary>Completes <see cref="GiveUpAfter"/> after the start: the poller, if asleep in a backoff, polls once more then.</summary>
    public Task WindowEnded => _windowEnded.Task;

    public void MarkCaughtUp()
    {
        _handled.TrySetResult();
        _takenIn.TrySetResult();
        Dispose();
    }

    /// <summary>
    /// A poll sent at <paramref name="pollSentAt"/> came back with fewer than a full batch, each update handled: every tap
    /// made before it was sent is in.
    /// </summary>
    public void AllHandled(DateTimeOffset pollSentAt)
    {
        lock (_seenGate)
        {
            _allSeenAt = pollSentAt;
            _failing = false;
        }
    }

    public DateTimeOffset TapsSeenBefore(DateTimeOffset now)
    {
        lock (_seenGate)
        {
            return !_failing ? now : _allSeenAt ?? DateTimeOffset.MinValue;
        }
    }

    /// <summary>A poll (or the handling of what it brought) failed: past the window, the backlog is given up on.</summary>
    public void PollFailed()
    {
        lock (_seenGate)
        {
            _failing = true;
        }
        if (_windowEnded.Task.IsCompleted)
        {
            GiveUp();
        }
    }

    private void GiveUp()
    {
        if (_takenIn.TrySetResult())
        {
            Dispose();
            LogGaveUp(Math.Round(_time.GetElapsedTime(_started).TotalMinutes, 1));
        }
    }

    public void Dispose()
    {
        _windowEnd.Dispose();
        _latest.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The updates that waited at Telegram while the service was down are still not fetched after {Minutes} minutes (the poller's log says why); expiry and escalations go ahead without them, and a tap fetched later on an expired draft is answered that it expired")]
    private partial void LogGaveUp(double minutes);
}
