using Quartz;

namespace ApprovalBot.Execution;

/// <summary>The Quartz job keys of ApprovalBot's jobs.</summary>
internal static class ApprovalJobKeys
{
    public static readonly JobKey Executor = new("executor", "approvalbot");

    /// <summary>When a durable job with this key is registered, it is triggered after every executor cycle.</summary>
    public static readonly JobKey Reconcile = new("reconcile", "approvalbot");

    public static readonly TriggerKey ExecutorInterval = new("executor-interval", "approvalbot");
}
