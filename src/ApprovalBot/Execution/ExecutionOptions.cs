namespace ApprovalBot.Execution;

/// <summary>Bound from <c>ApprovalBot:Execution</c>: how often the executor sweeps and how it backs off.</summary>
internal sealed class ExecutionOptions
{
    public const string Section = "ApprovalBot:Execution";

    /// <summary>Safety-net interval of the executor job; approvals wake it at once, this catches anything missed.</summary>
    public int IntervalSeconds { get; set; } = 30;

    /// <summary>Delay before the first retry of a failed attempt; doubled per attempt up to <see cref="RetryMaxSeconds"/>.</summary>
    public int RetryBaseSeconds { get; set; } = 10;

    public int RetryMaxSeconds { get; set; } = 600;

    /// <summary>Executions running at once, across cycles: a run outlives the cycle that started it.</summary>
    public int MaxParallel { get; set; } = 4;

    /// <summary>Most drafts queued in memory for a run slot; the rest wait in the store until runs end.</summary>
    public int BatchSize { get; set; } = 100;

    public TimeSpan Backoff(int attempt)
    {
        var seconds = RetryBaseSeconds * Math.Pow(2, Math.Max(0, attempt - 1));
        return TimeSpan.FromSeconds(Math.Min(seconds, RetryMaxSeconds));
    }
}
