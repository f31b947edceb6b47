using Quartz;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>Counts completed runs of each Quartz job, so a test can tell which cycles happened (and wait for one).</summary>
internal sealed class JobRuns : IJobListener
{
    private readonly Lock _lock = new();
    private readonly Dictionary<JobKey, int> _counts = [];

    public string Name => "test-job-runs";

    public int Count(JobKey key)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key);
        }
    }

    public Task WaitForAsync(JobKey key, int atLeast) =>
        ApprovalBot.Tests.Telegram.Eventually.TrueAsync(() => Count(key) >= atLeast, $"{atLeast} run(s) of {key}");

    public ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken cancellationToken = default) => default;

    public ValueTask JobExecutionVetoed(IJobExecutionContext context, CancellationToken cancellationToken = default) => default;

    public ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _counts[context.JobDetail.Key] = _counts.GetValueOrDefault(context.JobDetail.Key) + 1;
        }
        return default;
    }
}
