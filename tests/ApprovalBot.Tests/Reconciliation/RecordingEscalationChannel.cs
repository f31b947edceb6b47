using ApprovalBot.Reconciliation;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>A narrow seam standing in for the chat where only the reconciler's decisions are under test.</summary>
internal sealed class RecordingEscalationChannel : IEscalationChannel
{
    public List<Escalation> Sent { get; } = [];

    public int FailuresToInject { get; set; }

    public async Task SendAsync(Escalation escalation, Func<IReadOnlyList<EscalatedGap>, Task> delivered, CancellationToken cancellationToken)
    {
        if (FailuresToInject > 0)
        {
            FailuresToInject--;
            throw new HttpRequestException("chat unreachable");
        }
        Sent.Add(escalation);
        await delivered(escalation.Gaps);
    }
}
