using ApprovalBot.Reconciliation;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>A narrow seam standing in for the chat where only the reconciler's decisions are under test.</summary>
internal sealed class RecordingEscalationChannel : IEscalationChannel
{
    public List<Escalation> Sent { get; } = [];

    public int FailuresToInject { get; set; }

    /// <summary>Set: the next escalation of more gaps than this goes in parts of this many, and only its first part is taken.</summary>
    public int? FirstPartOnly { get; set; }

    public async Task SendAsync(Escalation escalation, Func<IReadOnlyList<EscalatedGap>, Task> delivered, CancellationToken cancellationToken)
    {
        if (FailuresToInject > 0)
        {
            FailuresToInject--;
            throw new HttpRequestException("chat unreachable");
        }
        if (FirstPartOnly is { } size && escalation.Gaps.Count > size)
        {
            FirstPartOnly = null;
            var part = escalation with { Gaps = [.. escalation.Gaps.Take(size)] };
            Sent.Add(part);
            await delivered(part.Gaps);
            throw new HttpRequestException("chat unreachable after the first part");
        }
        Sent.Add(escalation);
        await delivered(escalation.Gaps);
    }
}
