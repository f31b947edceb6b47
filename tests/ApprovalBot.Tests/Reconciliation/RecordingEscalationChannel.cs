using ApprovalBot.Reconciliation;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>A narrow seam standing in for the chat where only the reconciler's decisions are under test.</summary>
internal sealed class RecordingEscalationChannel : IEscalationChannel
{
    public List<Escalation> Sent { get; } = [];

    public int FailuresToInject { get; set; }

    public Task SendAsync(Escalation escalation, CancellationToken cancellationToken)
    {
        if (FailuresToInject > 0)
        {
            FailuresToInject--;
            throw new HttpRequestException("chat unreachable");
        }
        Sent.Add(escalation);
        return Task.CompletedTask;
    }
}
